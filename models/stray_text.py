"""What a tokenizer or a wrong chat template leaves in an answer's text that no reader wants: end-of-turn special
tokens at its end (a GGUF served with another model's template), a byte-order mark and zero-width characters
(some GGUF tokenizers and chat templates emit them)."""

from __future__ import annotations

import re

# end-of-turn and end-of-text tokens, by family: Llama 3 <|eot_id|> <|eom_id|> <|end_of_text|>, ChatML (Qwen, many
# fine-tunes) <|im_end|>, Phi-3 / gpt-oss <|end|>, Llama 2 / Mistral </s>, GPT-2 style <|endoftext|>, Gemma
# <end_of_turn> <eos>, DeepSeek <｜end▁of▁sentence｜>, Cohere <|END_OF_TURN_TOKEN|>
_END_TOKEN = (r"<\|eot_id\|>|<\|eom_id\|>|<\|end_of_text\|>|<\|im_end\|>|<\|end\|>|</s>|<\|endoftext\|>|"
              r"<end_of_turn>|<eos>|<｜end▁of▁sentence｜>|<\|END_OF_TURN_TOKEN\|>")
_TRAILING_END_TOKENS = re.compile(rf"(?:\s*(?:{_END_TOKEN}))+\s*$")
# never meaningful anywhere: a BOM (U+FEFF), a zero-width space (U+200B), a word joiner (U+2060)
_INVISIBLE = re.compile("[\ufeff\u200b\u2060]")
# meaningful inside a word (Persian and Indic scripts use the non-joiner U+200C, emoji sequences the joiner U+200D),
# never at a name's edges
_EDGE_JOINERS = re.compile("^[\u200c\u200d\\s]+|[\u200c\u200d\\s]+$")


def strip_end_tokens(text: str) -> str:
    """`text` without the end-of-turn special tokens (`_END_TOKEN`: `<|eot_id|>`, `<|im_end|>`, `<|end|>`, `</s>`,
    `<|endoftext|>`, ...) and the whitespace around them at its end; text without them is returned as is.

    Why: a model served with a wrong chat template ends every answer with its own end token as text; labels
    read "red<|im_end|>" and the clusters were named "Red im end"."""
    return _TRAILING_END_TOKENS.sub("", text) if "<" in text else text


def without_invisible(text: str) -> str:
    """`text` without a BOM, zero-width spaces and word joiners anywhere, nor zero-width (non-)joiners and
    whitespace at its ends; the joiners inside it stay (a Persian word, an emoji sequence need them).

    Why: names '\\ufeffRed\\u200b' from such a server reached the results, the report and the folder names of
    `ictc export`, looking like "Red" but not equal to it."""
    return _EDGE_JOINERS.sub("", _INVISIBLE.sub("", text))
