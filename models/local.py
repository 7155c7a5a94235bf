"""In-process Hugging Face transformers backend: an instruct LLM and an image-text-to-text VLM.

Both are exposed as LangChain chat models, so nodes treat them exactly like an endpoint; the LLM also
scores a fixed set of answers by log-likelihood (Step 3's constrained choice)."""

from __future__ import annotations

import threading
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from ictc.core.errors import ModelUnavailableError
from ictc.core.images import data_uri_to_image
from ictc.models.availability import gguf_file

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _seed_everything(seed: int) -> None:
    import torch

    torch.manual_seed(seed)


def _cut_at_stop(text: str, stop: list[str] | None) -> str:
    for marker in stop or []:
        if marker and marker in text:
            text = text[: text.index(marker)]
    return text


def pretrained_source(model_id: str) -> tuple[str, dict[str, str]]:
    """`from_pretrained` arguments for a folder, a hub id, or one GGUF file (dequantised by transformers)."""
    gguf = gguf_file(model_id)
    return (str(gguf.parent), {"gguf_file": gguf.name}) if gguf is not None else (model_id, {})


class LocalLLM:
    """A causal LM with its tokenizer; greedy decoding; one call at a time (a lock, torch uses all cores).

    Loaded in float32 on `device`; raises ModelUnavailableError (role `role`) when it cannot be loaded."""

    def __init__(self, model_id: str, device: str = "cpu", seed: int = 0, role: str = "llm"):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_id, self.device, self.seed = model_id, device, seed
        self.lock = threading.Lock()
        try:
            source, extra = pretrained_source(model_id)
            self.tokenizer = AutoTokenizer.from_pretrained(source, **extra)
            self.model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, **extra).to(device).eval()  # type: ignore[arg-type]  # transformers types .to oddly
        except (OSError, ValueError, ImportError) as exc:
            raise ModelUnavailableError(role, model_id, _first_line(exc), "local") from exc
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def _chat_text(self, messages: list[dict], answer: str | None = None) -> str:
        if answer is None:
            return str(self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
        full = [*messages, {"role": "assistant", "content": answer}]
        return str(self.tokenizer.apply_chat_template(full, tokenize=False))

    def generate(self, conversations: list[list[dict]], max_new_tokens: int, stop: list[str] | None = None) -> list[str]:
        """Greedy answers to a batch of chats ({"role", "content": str} dicts), one padded `generate` call.

        Each answer is at most `max_new_tokens` tokens, cut at the first `stop` marker and stripped."""
        import torch

        texts = [self._chat_text(c) for c in conversations]
        with self.lock, torch.inference_mode():
            _seed_everything(self.seed)
            batch = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
            output = self.model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                         pad_token_id=self.tokenizer.pad_token_id)
        new_tokens = output[:, batch["input_ids"].shape[1]:]
        decoded = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        return [_cut_at_stop(text, stop).strip() for text in decoded]

    def _continuation(self, messages: list[dict], prefix: str, option: str) -> str:
        """The exact text the chat template puts after the prompt when the answer is `option`
        (the answer plus the template's end-of-turn marker, so "cat" cannot win as a prefix of "caterpillar")."""
        full = self._chat_text(messages, option)
        if full.startswith(prefix):
            return full[len(prefix):].rstrip()
        return option + (self.tokenizer.eos_token or "")

    def score_options(self, messages: list[dict], options: list[str]) -> list[float]:
        """Sum of log-probabilities (natural log) of each option after the prompt, one float per option in
        order: the prompt runs once, then every option is scored in one batched pass on top of its cached keys
        and values. Options are not length-normalised; each includes the template's end-of-turn marker."""
        import torch

        prefix = self._chat_text(messages)
        prefix_ids = self.tokenizer(prefix, return_tensors="pt", add_special_tokens=False).input_ids.to(self.device)
        option_ids = [self.tokenizer(self._continuation(messages, prefix, o), add_special_tokens=False).input_ids
                      for o in options]
        width = max(len(ids) for ids in option_ids)
        pad = self.tokenizer.pad_token_id
        padded = torch.tensor([ids + [pad] * (width - len(ids)) for ids in option_ids], device=self.device)
        mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids in option_ids], device=self.device)
        with self.lock, torch.inference_mode():
            first = self.model(prefix_ids, use_cache=True)
            cache = first.past_key_values
            cache.batch_repeat_interleave(len(options))
            prefix_mask = torch.ones(len(options), prefix_ids.shape[1], dtype=mask.dtype, device=self.device)
            rest = self.model(input_ids=padded, attention_mask=torch.cat([prefix_mask, mask], dim=1),
                              past_key_values=cache, use_cache=False)
            first_logp = torch.log_softmax(first.logits[0, -1].float(), dim=-1)
            rest_logp = torch.log_softmax(rest.logits.float(), dim=-1)
        scores = []
        for row, ids in enumerate(option_ids):
            total = first_logp[ids[0]].item()
            for position in range(1, len(ids)):
                total += rest_logp[row, position - 1, ids[position]].item()
            scores.append(total)
        return scores


class LocalVLM:
    """An image-text-to-text model (SmolVLM/Idefics3, LLaVA, Qwen2-VL...) with its processor; greedy.

    Loaded in float32 on `device`; raises ModelUnavailableError when it cannot be loaded."""

    def __init__(self, model_id: str, device: str = "cpu", seed: int = 0):
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        self.model_id, self.device, self.seed = model_id, device, seed
        self.lock = threading.Lock()
        try:
            self.processor = AutoProcessor.from_pretrained(model_id)
            self.model = AutoModelForImageTextToText.from_pretrained(model_id, dtype=torch.float32).to(device).eval()  # type: ignore[arg-type]  # transformers types .to oddly
        except (OSError, ValueError, ImportError) as exc:
            raise ModelUnavailableError("vlm", model_id, _first_line(exc), "local") from exc
        self.processor.tokenizer.padding_side = "left"

    def generate(self, conversations: list[list[dict]], images: list[list[Any]], max_new_tokens: int,
                 stop: list[str] | None = None) -> list[str]:
        """Greedy answers to a batch of chats, one padded `generate` call. `images[i]` holds the PIL images
        of `conversations[i]`, in the order of its {"type": "image"} parts; answers are cut as LocalLLM's."""
        import torch

        texts = [self.processor.apply_chat_template(c, add_generation_prompt=True) for c in conversations]
        tokenizer = self.processor.tokenizer
        with self.lock, torch.inference_mode():
            _seed_everything(self.seed)
            batch = self.processor(text=texts, images=images, return_tensors="pt", padding=True).to(self.device)
            output = self.model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                         pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
        new_tokens = output[:, batch["input_ids"].shape[1]:]
        decoded = self.processor.batch_decode(new_tokens, skip_special_tokens=True)
        return [_cut_at_stop(text, stop).strip() for text in decoded]


def _to_plain(messages: list[BaseMessage]) -> tuple[list[dict], list[Any]]:
    """LangChain messages -> chat-template dicts, with images pulled out of OpenAI-style image blocks."""
    plain: list[dict[str, Any]] = []
    images: list[Any] = []
    for message in messages:
        role = _ROLES.get(message.type, "user")
        if isinstance(message.content, str):
            plain.append({"role": role, "content": message.content})
            continue
        parts = []
        for block in message.content:
            if isinstance(block, str):
                parts.append({"type": "text", "text": block})
            elif block.get("type") == "text":
                parts.append({"type": "text", "text": block["text"]})
            elif block.get("type") == "image_url":
                images.append(data_uri_to_image(block["image_url"]["url"]))
                parts.append({"type": "image"})
        plain.append({"role": role, "content": parts})
    return plain, images


def _text_only(plain: list[dict]) -> list[dict]:
    return [{"role": m["role"], "content": m["content"] if isinstance(m["content"], str)
             else " ".join(p["text"] for p in m["content"] if p["type"] == "text")} for m in plain]


class LocalChatModel(BaseChatModel):
    """LangChain face of a local LLM or VLM. `batch` runs one batched generate, not one call per input."""

    engine: Any
    default_max_tokens: int = 256

    @property
    def _llm_type(self) -> str:
        return "ictc-local-transformers"

    @property
    def model_id(self) -> str:
        """The hub id, folder or GGUF file the engine was loaded from."""
        return self.engine.model_id

    def _run(self, conversations: list[list[BaseMessage]], stop: list[str] | None, max_tokens: int | None) -> list[str]:
        plains, images = zip(*(_to_plain(c) for c in conversations), strict=True)
        limit = max_tokens or self.default_max_tokens
        if isinstance(self.engine, LocalVLM):
            return self.engine.generate(list(plains), list(images), limit, stop)
        return self.engine.generate([_text_only(p) for p in plains], limit, stop)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        text = self._run([messages], stop, kwargs.get("max_tokens"))[0]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def batch(self, inputs: list[Any], config: Any = None, *, return_exceptions: bool = False, **kwargs: Any) -> list[Any]:
        """One AIMessage per input (anything LangChain turns into messages), from a single batched generate.
        `stop` and `max_tokens` come through kwargs. A failure fails the whole batch: it is raised, or with
        `return_exceptions` returned once per input."""
        conversations = [self._convert_input(i).to_messages() for i in inputs]
        try:
            texts = self._run(conversations, kwargs.get("stop"), kwargs.get("max_tokens"))
        except Exception as exc:
            if return_exceptions:
                return [exc for _ in inputs]
            raise
        return [AIMessage(content=t) for t in texts]

    def score_options(self, messages: list[BaseMessage], options: list[str]) -> list[float]:
        """Log-likelihood of each option as the answer to `messages` (text parts only); see LocalLLM.score_options.
        Raises AttributeError when the engine is a VLM, which cannot score."""
        plain, _ = _to_plain(messages)
        return self.engine.score_options(_text_only(plain), options)
