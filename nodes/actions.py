"""What a user can do at a review pause or with `ictc refine`, as typed structures, and the plan each
one becomes: which state to reset and where the graph goes next.

Exactness comes from two things together: an action resets only the results downstream of the first
step whose inputs it changes, and every step's answers are stored under the hash of their exact
inputs, so a re-run step calls a model only for the images whose prompt really changed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ictc.core.errors import UsageError, whole_number
from ictc.models.other import OTHER, group_fields, same_name
from ictc.nodes.kept_edits import with_renamed
from ictc.nodes.merged_names import with_rename
from ictc.prompts import ALL_STEPS, Criterion, make_criterion, shortened, step_name


@dataclass(frozen=True)
class Accept:
    """Accept what the review pause shows and go on."""

    action: str = "accept"


@dataclass(frozen=True)
class Rename:
    """Rename `cluster` to `to`; the members stay (no model call). `to` is kept on one line, spaces collapsed."""

    cluster: str
    to: str
    action: str = "rename"

    def __post_init__(self) -> None:  # a name across lines broke Step 3's list of names: its images all moved out
        object.__setattr__(self, "to", " ".join(str(self.to).split()))


@dataclass(frozen=True)
class Merge:
    """Merge the two `clusters` into one named `into`; K drops by one (no model call)."""

    clusters: tuple[str, str]
    into: str = ""  # empty: keep the name of the cluster with more images (the first on a tie)
    action: str = "merge"

    def __post_init__(self) -> None:  # on one line, as Rename's
        object.__setattr__(self, "into", " ".join(str(self.into).split()))


@dataclass(frozen=True)
class Split:
    """Split `cluster` into `n` clusters: Step 2b names the parts, Step 3 reassigns its images only."""

    cluster: str
    n: int = 2
    action: str = "split"

    def __post_init__(self) -> None:  # split_cluster(0, 2.7) had split into 2
        object.__setattr__(self, "n", whole_number(self.n, "the number of parts of a split"))


@dataclass(frozen=True)
class SetK:
    """Name `k` clusters afresh: Step 2b and Step 3 again, descriptions and labels kept."""

    k: int
    action: str = "set_k"

    def __post_init__(self) -> None:  # set_n_clusters(2.7) had made 2 clusters
        object.__setattr__(self, "k", whole_number(self.k, "K"))


@dataclass(frozen=True)
class SetCriterion:
    """Replace the criterion text (or use `preset`, a presets.json name), keeping the instructions: every step again."""

    criterion: str
    preset: str | None = None
    action: str = "set_criterion"


@dataclass(frozen=True)
class AddInstruction:
    """Add `text` to the prompt of `step` (describe, label, name_clusters, assign or all): that step and the
    ones after it again."""

    text: str
    step: str = ALL_STEPS
    action: str = "add_instruction"


@dataclass(frozen=True)
class RemoveInstructions:
    """Take out the instructions whose text contains `about` (case aside; "": all of them): the earliest step
    that had one and the ones after it again."""

    about: str = ""
    action: str = "remove_instructions"


@dataclass(frozen=True)
class SetNames:
    """The user's own categories: Step 2b is skipped and Step 3 assigns to exactly these (issue 21)."""

    names: tuple[str, ...]
    action: str = "set_names"


@dataclass(frozen=True)
class AddOther:
    """An "other" group: Step 3 may answer that none of the names fits."""

    action: str = "add_other"


@dataclass(frozen=True)
class Coarser:
    """Group the current names into `n` parents named by the LLM; images follow their cluster (paper §4.2)."""

    n: int = 2
    action: str = "coarser"

    def __post_init__(self) -> None:  # coarsen(2.5) had made 2 parents
        object.__setattr__(self, "n", whole_number(self.n, "the number of broader groups"))


@dataclass(frozen=True)
class Remove:
    """Take `cluster` out ("": every cluster with no image): its images go to Step 3 again, each choosing among
    the names left; K drops by the clusters removed. No model call when they hold no image."""

    cluster: str = ""
    action: str = "remove"


@dataclass(frozen=True)
class ProposeK:
    """Let the tool propose K from the labels (nodes/propose_k.py) and take the best candidate."""

    action: str = "propose_k"


Action = (Accept | Rename | Merge | Split | SetK | SetCriterion | AddInstruction | RemoveInstructions | SetNames | AddOther
          | Coarser | Remove | ProposeK)
KINDS: dict[str, type] = {c.action: c for c in (Accept, Rename, Merge, Split, SetK, SetCriterion, AddInstruction,  # type: ignore[attr-defined]
                                                RemoveInstructions, SetNames, AddOther, Coarser, Remove, ProposeK)}


def parse_action(data: dict[str, Any] | Action) -> Action:
    """The Action in `data`: an Action is returned as is; a dict names its kind under "action" (see KINDS)
    and the fields by name. Raises UsageError for an unknown kind or fields that do not fit it."""
    if not isinstance(data, dict):
        return data
    kind = KINDS.get(str(data.get("action")))
    if kind is None:
        raise UsageError(f"unknown action {data.get('action')!r}: use one of {', '.join(KINDS)}")
    fields = {k: v for k, v in data.items() if k != "action"}
    if kind is Merge:
        fields["clusters"] = tuple(fields.get("clusters", ()))
    if kind is SetNames:
        fields["names"] = tuple(fields.get("names", ()))
    try:
        return kind(**fields)
    except TypeError as exc:
        raise UsageError(f"bad {kind.action} action: {exc}") from exc  # type: ignore[attr-defined]


def action_dict(action: Action) -> dict[str, Any]:
    """The JSON-ready dict form of `action` (the inverse of parse_action): its fields plus "action"."""
    data = asdict(action)
    if isinstance(action, Merge):
        data["clusters"] = list(action.clusters)
    if isinstance(action, SetNames):
        data["names"] = list(action.names)
    return data


def describe_action(action: Action) -> str:
    """The action in a few words, as a version's label ("merge 'cats' and 'dogs'", "use K=5")."""
    match action:
        case Accept():
            return "accept"
        case Rename(cluster, to):
            return f"rename {cluster!r} to {to!r}"
        case Merge(clusters, into):
            return f"merge {clusters[0]!r} and {clusters[1]!r}" + (f" into {into!r}" if into else "")
        case Split(cluster, n):
            return f"split {cluster!r} into {n}"
        case SetK(k):
            return f"use K={k}"
        case SetCriterion(criterion):
            return f"criterion {shortened(criterion)!r}"  # a long one cut: it is said in one line
        case AddInstruction(text, step):
            return f"instruction for {_step_title(step)}: {text!r}"
        case RemoveInstructions(about):
            return f"remove the instructions about {about!r}" if about else "remove every instruction"
        case SetNames(names):
            return "sort into " + ", ".join(repr(n) for n in names)
        case AddOther():
            return "put the rest in 'other'"
        case Coarser(n):
            return f"group the names into {n} broader ones"
        case Remove(cluster):
            return f"remove {cluster!r}" if cluster else "remove the empty clusters"
        case ProposeK():
            return "propose K"
    raise AssertionError(action)


def reset_fields(*fields: str) -> dict[str, Any]:
    """`fields` marked to be cleared in a state update (nodes/state.py RESET)."""
    # imported here, not at the top: reading a chat message needs no langgraph
    from ictc.nodes.state import RESET

    return {f: {RESET: True} for f in fields}


@dataclass
class Plan:
    """What an action does to a run: `update` is written to the state (RESET marks fields to clear), then the
    graph goes to node `goto` ("": straight back to the review point, nothing to recompute)."""

    update: dict[str, Any]
    goto: str
    redo: str  # what will be redone, in words, for the user before it runs


def check_name(state: dict[str, Any], name: str) -> str:
    """`name` when it is one of the run's cluster names; raises UsageError naming the clusters otherwise."""
    names = state.get("naming", {}).get("names", [])
    if name not in names:
        raise UsageError(f"no cluster named {name!r}; the clusters are: {', '.join(names)}")
    return name


def assigned(state: dict[str, Any], cluster: str) -> list[str]:
    """The paths of the images Step 3 put in `cluster`."""
    return [p for p, a in state.get("assignments", {}).items() if a["cluster"] == cluster]


def same_text(a: str, b: str) -> bool:
    """Whether two typed texts say the same: case, spacing, "don't" for "do not" and a final full stop aside."""
    def plain(text: str) -> str:
        return " ".join(text.casefold().replace("don't", "do not").replace("doesn't", "does not").split()).rstrip(".")

    return plain(a) == plain(b)


def _step_title(step: str) -> str:
    """A step as its name ("3" and "assign" alike read "assign"); an unknown step as given."""
    try:
        return step_name(step)
    except UsageError:
        return step


NAMES_AFRESH = ("start", "descriptions_done", "name_clusters", "propose_k")  # nodes from which Step 2b runs again


def plan_action(state: dict[str, Any], action: Action) -> Plan:
    """The state update and the node to go to for `action`, applied to a run's `state` (its values); its `redo`
    says when Step 2b will name the clusters afresh (the user's renames and merges then go).

    No model is called here: a split goes to the name_split node, which asks Step 2b for the parts.
    Raises UsageError (a ValueError) naming the cluster or value when the action does not fit the run, or
    when it changes nothing (Accept, the criterion the run has, an instruction it already has)."""
    plan = _plan(state, action)
    from ictc.nodes.grouping_actions import names_note  # in its own module, as the grouping plans
    plan.redo += names_note(state, plan)
    return plan


def _plan(state: dict[str, Any], action: Action) -> Plan:
    names = list(state.get("naming", {}).get("names", []))
    criterion = Criterion.from_dict(state["criterion"])
    images = len(state["images"])  # every file: a change that redoes every step retries the failed ones too
    # imported here: reading a chat message needs no langgraph (nodes/state.py imports it)
    from ictc.nodes.state import images_said, k_range_error

    match action:
        case Rename(cluster, to):
            check_name(state, cluster)
            if to == cluster:  # a new version for nothing (a newcomer's "--rename blue blue")
                raise UsageError(f"{cluster!r} is already called that: nothing to change")
            if not to.strip():
                raise UsageError("cannot rename to an empty name")
            # "Blue" beside "blue", "Others" beside the group "other": no one typing a name could tell them apart
            if taken := next((n for n in names if n != cluster and same_name(to, n)), None):  # named: which one
                raise UsageError(f"cannot rename to {to!r}: cluster {names.index(taken) + 1} is called {taken!r}")
            moved = {p: {**a, "cluster": to} for p, a in state.get("assignments", {}).items() if a["cluster"] == cluster}
            naming = {**with_rename(state["naming"], cluster, to), "names": [to if n == cluster else n for n in names]}
            naming = with_renamed(naming, cluster, to)  # so that a resume's Step 2b can name it so again
            gone = group_fields(naming["names"], bool(state.get("other"))) if cluster == OTHER else {}  # now a cluster
            return Plan({"naming": naming, "assignments": moved, **gone}, "", "nothing (a rename calls no model)")
        case SetK(k):
            given = state.get("assignments", {})
            empty = given and set(state.get("naming", {}).get("names", [])) - {a["cluster"] for a in given.values()}
            # the same K would redo Steps 2b and 3 for nothing, unless a cluster is empty (a newcomer's split left one)
            if k == state.get("n_clusters") and not state.get("user_names") and not empty:
                raise UsageError(f"K is already {k}: nothing to redo")
            if refused := k_range_error(state, k):
                raise UsageError(refused)
            return Plan({"n_clusters": k, "scope": {}, "user_names": [], **reset_fields("assignments")}, "name_clusters",
                        f"Step 2b with K={k}, then Step 3 on {images_said(state)} (no VLM, no Step 2a)")
        case SetCriterion(text, preset):
            new = make_criterion(text, preset)
            if (same_text(new.text, criterion.text) and new.preset == criterion.preset) or not new.text.strip():
                # a newcomer's "colour; 4" on a colour run redid every step for nothing
                raise UsageError(f"the criterion is already {criterion.text!r}: nothing to redo" if new.text.strip()
                                 else "the new criterion is empty")
            new = Criterion(new.text, new.preset, criterion.instructions)
            return Plan({"criterion": new.to_dict(), "scope": {}, **reset_fields("descriptions", "labels", "assignments", "failures")},
                        "start", f"every step on {images} images (the criterion is in every prompt)")
        case AddInstruction() | RemoveInstructions():
            from ictc.nodes.instruction_actions import plan_instructions  # in their own module

            return plan_instructions(criterion, action, f"{images} images", images_said(state))
        case Merge() | Split() | SetNames() | AddOther() | Coarser() | Remove() | ProposeK():
            from ictc.nodes.grouping_actions import plan_grouping  # planned in their own module

            return plan_grouping(state, action)
    raise UsageError(f"{describe_action(action)} is not a change")


def preview_action(state: dict[str, Any], action: Action) -> str:
    """What `action` would redo, in words, before anything runs (no model is called).

    Raises UsageError like plan_action."""
    return plan_action(state, action).redo
