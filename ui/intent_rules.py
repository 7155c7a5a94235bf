"""Reading a chat message by rules: plain patterns for the usual phrasings (a criterion, a K, go, cancel, undo,
help, an instruction, a change to the clusters), used when no LLM is configured and, when they read the whole
message, in place of it (ui/intent.py read_intent)."""

from __future__ import annotations

import re

from ictc.models.other import OTHER
from ictc.nodes.actions import AddInstruction, Remove, RemoveInstructions
from ictc.ui.change_rules import missing_cluster, read_change
from ictc.ui.chat_words import CANCEL, CONFIRM, GROUP_WORDS, NUMBER_WORD, number, preset_of
from ictc.ui.intent import Intent
from ictc.ui.wording import clean_criterion, courtesy_only

ADD_IMAGES = ("a run keeps the images it started with: choose all the images you want on the left (sidebar), and a "
              "new run starts on them; this one stays under Recent runs")
# a setting named in the chat (a trace says "ICTC_LABEL_EXAMPLE=off leaves the example out"): where settings are set,
# not "I could not tell ...", and "don't use WordNet" no instruction to every step. Not "setting" alone: a criterion
SETTINGS = re.compile(r"\bictc_[a-z0-9_]+\b|\blevers?\b|\bworked example\b|\bwordnet\b|"
                      r"\b(?:what|which|change|show|edit)\s+(?:the\s+)?settings\b")
SETTINGS_SAID = ("settings are not changed in the chat: set them (.env.example lists them all) in .env or the environment "
                 "where `ictc ui` starts, then restart it; those a run used are in its results.json (Export tab), under "
                 "settings and levers")
# a reply that is only a number, maybe with a word of assent around it: "6", "ok 6", "let's say 6 groups"
# a correction counts too: "actually make it 6", "make it 4 instead", "no, 3" (newcomers found them unread)
BARE_NUMBER = re.compile(rf"^(?:(?:ok(?:ay)?|yes|yeah|sure|hmm|maybe|so|then|let'?s (?:say|do|use|try|go with)|make it|"
                         rf"use|try|go with|i want|i'd like|want|actually|no|wait|oh|well|rather)[,\s]+)*"
                         rf"(?:k\s*[=:]\s*)?({NUMBER_WORD})"
                         rf"(?:\s+{GROUP_WORDS})?(?:[,\s]+(?:please|then|groups?|thanks|go|instead))*$", re.I)
START_OVER = re.compile(r"^(?:let'?s\s+)?(?:start (?:over|again|afresh)|reset|clear (?:it|that|everything|the reading)|"
                        r"from scratch|begin again)$")
NO_OTHER = re.compile(r"^(?:no|without|remove|drop|delete|(?:i |we )?(?:don'?t|do not) (?:want|need))\s+(?:an?\s+|the\s+|any\s+)?"
                      r"[\"']?other[\"']?(?:\s+(?:group|cluster))?(?:\s+any\s*more)?$")
HELP = re.compile(r"^(?:(?:i need |i want |need |get |some |any )?help(?: me| please)?|\?+|"
                  r"what (?:can|do|should) i (?:say|do|type|ask|write)(?: now| here| next)?\??|what now\??|"
                  r"how do(?:es)? (?:i|you|this|it|one)\b.*|how (?:this|it) works\??|what is this(?: app| tool| thing)?\??|"
                  r"commands|options|examples?|what are (?:my|the) options\??|"
                  r"(?:so,? )?what (?:would|do|can) you (?:suggest|recommend)\??|any (?:suggestions|ideas|tips)\??)$")  # "how do I delete a group?" too
# a clause that says what not to group by: "..., ignore the border", "... but don't look at the mark", "..., not brightness"
NEGATIVE_CLAUSE = re.compile(r"(?:(?:\s*[,;]\s*|\s+(?:but|and)\s+)(?:not|ignore|ignoring|without(?:\s+(?:looking at|considering))?|"
                             r"(?:do not|don'?t)\s+(?:look at|consider|use|count|care about|mind))|"
                             r"\s+without\s+(?:looking at|considering))\s+(?:by\s+)?([^,;.!?]+)", re.I)
REMOVE_INSTRUCTIONS = re.compile(r"^(?:please\s+)?(?:no|clear|remove|drop|delete|forget|cancel|take out)\s+(?:all\s+)?"
                                 r"(?:of\s+)?(?:the\s+|my\s+|those\s+|these\s+|every\s+)?instructions?"
                                 r"(?:\s+(?:about|on|for|with|mentioning|saying|that says)\s+(.+?))?(?:\s+please)?$")


def read_by_rules(text: str, names: list[str]) -> Intent:
    """Plain patterns for the usual phrasings; anything else is 'unclear' (the user is asked again).
    `sure` is set when a pattern read the whole message (then this reading wins over the LLM's)."""
    message = " ".join(text.strip().split())
    lowered = message.lower().rstrip(".!")
    if re.search(rf"\b{NUMBER_WORD}\s*\?+$", lowered):  # "maybe 3?": a K said with doubt is still a K
        lowered = lowered.rstrip("?").rstrip()
    if lowered in CONFIRM:
        return Intent("go", sure=True)
    if lowered in CANCEL:
        return Intent("cancel", sure=True)
    if m := re.match(r"(?:please\s+)?(?:go back|revert|restore|return|back|roll back)\s+(?:to\s+)?(?:version|v)\s*(\d+)$",
                     lowered):
        return Intent("undo", version=int(m[1]), sure=True)
    if m := re.match(r"(?:please\s+)?(?:go back|revert|restore|return|back|roll back)\s+to\s+(?:the\s+)?(first|original|"
                     r"previous|last|earlier)\s+(?:version|one|run|clusters)$", lowered):  # "go back to the first version"
        return Intent("undo", version=1 if m[1] in ("first", "original") else 0, sure=True)
    if courtesy_only(lowered):  # "thanks, that's great", "great, thanks", "thanks a lot" (ui/wording.py)
        return Intent("thanks", sure=True)
    # before help: "how do I add images to this run?" had the general guide (an eleventh newcomer's)
    if re.search(r"\badd\b.{0,30}\b(?:images?|photos?|pictures?|files?|folder)\b", lowered):  # a tenth newcomer's
        return Intent("unclear", problem=ADD_IMAGES, sure=True)
    if SETTINGS.search(lowered):
        return Intent("unclear", problem=SETTINGS_SAID, sure=True)
    if HELP.match(lowered):  # a newcomer's first "help" had been read as nothing ("I could not tell ...")
        return Intent("help", sure=True)
    if START_OVER.match(lowered):  # before a run: the reading cleared (a newcomer's "start over" became the criterion)
        return Intent("start_over", sure=True)
    if m := re.match(rf"(?:i |we )?(?:don'?t|do not) (?:want|need) ({NUMBER_WORD}) {GROUP_WORDS}\b[,;.]?\s*(?:(?:so |but )?"
                     rf"(?:make it|use|i want|give me|rather|instead)\s+)?({NUMBER_WORD})?", lowered):
        # "I don't want 3 groups[, make it 2]": about K, never a criterion (an eleventh newcomer's ran by "i don't want");
        # the count there is now is said (at 2 groups, "how many instead of 3?" had left it out)
        example = f'Say e.g. "{next(n for n in range(2, 99) if n not in (number(m[1]), len(names)))} groups"'
        asked = (f"there are {len(names)} groups now{', not ' + m[1] if len(names) != number(m[1]) else ''}: how many do "
                 f"you want? {example}" if names else f"how many groups instead of {m[1]}? {example}")
        return _k_request(number(m[2])) if m[2] else Intent("unclear", problem=asked, sure=True)
    if NO_OTHER.match(lowered):  # "no other group": before a run the reading drops it; after one, the cluster goes
        return Intent("change", action=Remove(OTHER), sure=True)
    if re.match(r"(?:please\s+)?(?:undo|go back|revert|roll back|take (?:that|it) back)(?:\s+(?:that|it|this|the last "
                r"(?:change|step|one)|one step))?(?:\s+please)?$", lowered):
        return Intent("undo", sure=True)
    if re.match(rf"(?:please\s+)?(?:undo|revert|roll back)\s+(?:(?:the\s+)?(?:last|past)\s+)?(?:{NUMBER_WORD}|both|all|every|"
                rf"twice|everything)\b", lowered):  # "undo the last two changes" had reached only the LLM
        return Intent("unclear", problem='undo goes back one version at a time: say "undo" again, or "go back to '
                                         'version N" (the Versions tab lists them)', sure=True)
    if m := BARE_NUMBER.match(lowered):
        return _k_request(number(m[1]))
    if m := REMOVE_INSTRUCTIONS.match(lowered):  # "no instructions", "remove the instruction about brightness"
        return Intent("change", action=RemoveInstructions(clean_criterion(m[1] or "")), sure=True)
    if names and (change := read_change(message, names)):
        return change
    if m := re.match(r"(?:for|in|at|on)\s+(?:the\s+)?(?:step\s+(1|2a|2b|3)|(describe|label|naming|assign)\s+step)"
                     r"(?:\s+only)?\s*[:,]?\s+(.+)$", message, re.I):  # "for step 3 only: ...", "for the label step: ..."
        step = m[1] or {"naming": "name_clusters"}.get(m[2].lower(), m[2].lower())
        return Intent("change", action=AddInstruction(m[3].strip(), step.lower()), sure=True)
    if (m := NEGATIVE_CLAUSE.search(message)) and (rest := (message[:m.start()] + message[m.end():]).strip(" ,;")):
        # "colour, 4 groups, ignore the border": the clause is the paper's negative instruction, the rest is read
        # alone (the criterion had been "colour, 4 groups"; with "don't look at" both were lost)
        inner, unwanted = read_by_rules(rest, names), f"Do not consider {m[1].strip()}"
        if inner.kind == "request" and (inner.criterion or inner.k):
            inner.instructions.insert(0, unwanted)  # the clauses in the order typed (the rest holds the later ones)
            return inner
        if (phrase := criterion_phrase(rest)) and len(phrase.split()) <= 4:  # "colour but ignore the frame"
            return Intent("request", criterion=phrase, preset=preset_of(phrase), instructions=[unwanted], sure=True)
    if m := re.match(r"(?:please\s+|and\s+|also\s+|but\s+)*((?:don'?t|do not|ignore|never|avoid|disregard|only)\b.*)", message, re.I):
        return Intent("request", instructions=[m[1]], sure=True)  # "and ignore the background": an instruction too
    k, rest, zero = 0, lowered, False
    if m := re.match(rf"(?:(?:please\s+)?(?:set|change|make)\s+)?(?:the\s+)?(?:k|number of {GROUP_WORDS})\s+(?:to|=|:)\s*"
                     rf"({NUMBER_WORD})(?:\s+please)?$", lowered):  # "set K to 5"
        return _k_request(number(m[1]))
    if (m := re.match(rf"({NUMBER_WORD})\s+([a-z][a-z -]{{0,30}}?)\s+{GROUP_WORDS}$", lowered)) and (
            m[2] not in _NOT_A_CRITERION and (phrase := criterion_phrase(m[2]))):  # "4 colour groups"
        return Intent("request", criterion=phrase, k=number(m[1]), preset=preset_of(phrase), sure=True)
    if m := re.search(rf"\bk\s*=\s*(\d+)|\b({NUMBER_WORD})\s+{GROUP_WORDS}\b|(?:\b(?:into|in)\s+|[,;:.]\s*(?:(?:maybe|perhaps|"
                      rf"say|about|around|i want|i'?d like|i would like|i need|give me|let'?s say|make it)\s+)?)({NUMBER_WORD})$|\binto\s+({NUMBER_WORD})(?=\s+(?:by|based on|according to)\b)|"
                      rf"\(\s*({NUMBER_WORD})\s*\)$", lowered):
        # "k=5", "5 groups", "..., into 4", "colour; 4", "colour; maybe 4", "by colour. Maybe 3?", "colour (3)",
        # "split them into three by animal type"
        k = int(m[1]) if m[1] else number(m[2] or m[3] or m[4] or m[5])
        rest, zero = lowered.replace(m[0], " "), k == 0
    criterion, strong = "", False
    if m := re.search(r"\bcriterion\s*[:=]\s*([^,;]+)", message, re.I):  # "criterion: colour", "k=3, criterion=colour"
        criterion, strong = clean_criterion(m[1]), True
    elif m := re.search(r"\b(?:(focus on|(?:group|cluster|sort|organi[sz]e|split|divide)(?:ed)?(?:\s+\w+){0,3}\s+by|"
                      r"according to|based on|^what about|^how about|^what'?s|^what is)|by)(?:\s*:\s*|\s+)(.+)", message, re.I):
        criterion = re.split(rf",|;|\.\s|\?|\s*\(|\s+[—–-]+\s+|\s+instead\b|\s+but\b|\s+and\s+(?:use|make|give|want|into|in|with)\b|"
                             rf"\s+(?:into|in|with|using|and)\s+{NUMBER_WORD}\b|\s+{NUMBER_WORD}\s+{GROUP_WORDS}",
                             m[2], flags=re.I)[0]
        criterion, strong = clean_criterion(criterion), bool(m[1])
        if all(w in _FILLER for w in re.findall(r"[a-z']+", criterion.lower())):  # "what is K?" named no criterion
            criterion = ""
    if not criterion and not k and (m := re.match(r"(?:no,?\s+|actually,?\s+)?(.+?)\s+instead$", lowered)) and (
            phrase := criterion_phrase(m[1])) and len(phrase.split()) <= 4:  # "colour instead"
        criterion, strong = clean_criterion(m[1]), True
    if k and not criterion and (phrase := _criterion_beside_k(rest)):
        return Intent("request", criterion=phrase, k=k, preset=preset_of(phrase), sure=True)
    if zero:  # "group by colour, 0 groups", "colour, 0 groups": the criterion stands, K 0 is said back (not read as no K)
        criterion = criterion or _criterion_beside_k(rest)
        return Intent("request", criterion=criterion, preset=preset_of(criterion), sure=True,
                      problem="K must be 2 or more, not 0") if criterion else _k_request(0)
    if criterion or k:
        # sure: a criterion said with "group by"/"focus on"..., or a K with hardly a word besides it
        sure = strong or (not criterion and len(re.findall(r"[a-z']+", rest)) <= 2)
        return Intent("request", criterion=criterion, k=k, preset=preset_of(criterion), sure=sure)
    if names and (missing := missing_cluster(message, names)):  # "put Purple into Red" without a Purple: say so
        return Intent("unclear", problem=missing)
    return Intent("unclear", problem="I could not tell what to group by or what to change")


def _k_request(k: int) -> Intent:
    """A K the rules read alone; K = 0 is said back, not taken as "no K given" (a newcomer's "0 groups" was
    silently ignored before a run: Intent.k 0 means none)."""
    if k == 0:
        return Intent("unclear", problem="K must be 2 or more, not 0", sure=True)
    return Intent("request", k=k, sure=True)


_NOT_A_CRITERION = {"more", "fewer", "less", "different", "new", "other", "separate", "distinct", "main", "big", "small",
                    "equal", "even", "similar"}  # "4 more groups" names no criterion
# words around a K that say nothing about what to group by ("ok, use 5 groups please", "group these into 4")
_FILLER = {"ok", "okay", "yes", "please", "use", "make", "want", "i", "give", "me", "into", "in", "with", "and",
           "then", "now", "group", "cluster", "sort", "organise", "organize", "split", "divide", "these", "them",
           "the", "images", "photos", "pictures", "it", "just", "let's", "lets", "do", "try", "of", "a", "for", "let",
           "put", "move", "merge",
           # a correction's words ("no, 3 groups", "actually make it five", "4 groups instead of 5") name no criterion
           "no", "nope", "not", "actually", "instead", "rather", "than", "so", "well", "hmm", "maybe", "wait", "oh",
           "yeah", "sure", "better", "go", "you", "can", "could", "would", "we", "about", "say", "only",
           # nor does a word about K ("too many groups" after own categories became the criterion; "what is K?")
           "k", "too", "many", "few", "groups", "clusters", "number", "is", "what", "mean", "means"}


def criterion_phrase(text: str) -> str:
    """`text` as a criterion when it has a word that is not filler ("shape of the object" -> itself; "ok,
    use" -> ""): for a noun phrase typed beside a K or as the answer to "What should the images be grouped
    by?" (newcomer: "colour of the picture, 5 groups" lost its criterion)."""
    phrase = clean_criterion(re.sub(r"^(?:(?:ok(?:ay)?|please|now|then|and)[,\s]+)+", "", text.strip(), flags=re.I))
    words = re.findall(r"[a-z']+", phrase.lower())
    if not words or all(w in _FILLER for w in words) or len(words) > 8:
        return ""
    return phrase


def _criterion_beside_k(rest: str) -> str:
    """The criterion in what is left of a message once its K is taken out, when that is one phrase typed
    before or after the K ("the season, 3 groups", "4 groups: shape of the object"); "" otherwise."""
    rest = re.sub(r"\(\s*\)", " ", rest)  # "mood (4 groups)": the brackets the K was in ("mood ( )" had been the criterion)
    rest = " ".join(re.sub(r"\s+(?:in|into|with|using)\s*$|^\s*(?:in|into|with)\s+", " ", rest.strip(" ,;:-")).split())
    rest = re.sub(r"^(?:(?:please\s+)?(?:group|cluster|sort|split|divide)\s+(?:these|them|the\s+\w+)(?:\s+\w+)?)$",
                  "", rest, flags=re.I)
    rest = rest.strip(" ,;:-")
    if re.search(r"[?!.,;]", rest) or re.match(r"(?:what|which|how|why|who|where|when|can|could|would)\b", rest, re.I):
        return ""  # a question, sentences or clauses: left to the LLM, which reads them better than a phrase rule
    return criterion_phrase(rest)
