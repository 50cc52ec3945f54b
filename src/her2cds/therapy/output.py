"""The compact therapy options of the default document, written directly as JSON text (D14.8).

The compact form (:class:`~her2cds.model.therapy.TherapySummary`, D14.5) of an eligible or undecided option is its
indication's fixed head (``id``, ``title``, ``drugs``), then what the case decided; an option ruled out (not
eligible) is its id and the ids of the criteria it does not meet, in the assessment's ``ruled_out`` map (D14.9).
The fixed parts are encoded once per knowledge base (:class:`CompactOptions`, built with the engine); per case only
the decided values are encoded.
The text equals pydantic's ``model_dump_json`` of the same options (tested on every golden case and on
generated cases): strings go through the same escaping as ``json.dumps(..., ensure_ascii=False)``, which is
serde_json's (quote, backslash and control characters only).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import compress
from json.encoder import encode_basestring as _quote  # the C encoder json.dumps uses with ensure_ascii=False
from typing import Final

from her2cds.therapy.knowledge import TherapyKnowledge
from her2cds.therapy.matching import Option

_RESULTS: Final = ("met", "not_met", "unknown")
_NOT_MET: Final = "not_met"
#: the ``therapies`` and ``ruled_out`` members of an assessment without therapy options
NO_OPTIONS: Final = '"therapies":[],"ruled_out":{}'
_NEEDS: Final = '"needs":'
_LINE: Final = '"line_of_therapy":'
_ALTERNATIVES: Final = '"alternatives":'
_pick = dict.__getitem__  # (a criterion's fragments by result, its result) -> its fragment
_is_not_met = _NOT_MET.__eq__  # a result -> whether it is "not met"
_ELIGIBLE: Final = {outcome: f'{"true" if outcome == "eligible" else "false"},"outcome":"{outcome}",'
                    for outcome in ("eligible", "insufficient_data", "not_eligible")}


def quote(text: str) -> str:
    """``text`` as a JSON string, exactly as pydantic (serde_json) writes it."""
    return _quote(text)


def strings(items: Sequence[str]) -> str:
    """A JSON array of strings."""
    return f"[{','.join(map(_quote, items))}]" if items else "[]"


class CompactOptions:
    """Encodes evaluated options in their compact form (D14.5: criteria as ``{id: result}``; empty ``needs`` /
    ``alternatives``, a null ``line_of_therapy`` and ``history_used`` left out; D14.9: an option not eligible as
    ``"id": [criteria not met]`` in ``ruled_out``). Immutable after construction; thread-safe."""

    def __init__(self, tk: TherapyKnowledge) -> None:
        heads: list[str] = []
        criteria: list[tuple[dict[str, str], ...]] = []
        ids: list[tuple[str, ...]] = []
        for ind in tk.indications:
            entry = ind.entry
            heads.append(f'{{"id":{_quote(entry.id)},"title":{_quote(entry.title)},"drugs":{strings(entry.drugs)},'
                         '"eligible":')
            cids = ("tumor", ind.setting_node.id, *(node.id for node in ind.nodes))
            criteria.append(tuple({r: f'{_quote(cid)}:"{r}"' for r in _RESULTS} for cid in cids))
            ids.append(tuple(map(_quote, cids)))
        self._heads = tuple(heads)
        self._criteria = tuple(criteria)
        self._ruled_out = tuple(f"{_quote(ind.entry.id)}:[" for ind in tk.indications)
        self._ids = tuple(ids)

    def options(self, options: Sequence[Option]) -> str:
        """The ``therapies`` and ``ruled_out`` members (``"therapies":[...],"ruled_out":{...}``) of the options'
        compact forms, for the default region (``region_status`` left out)."""
        if not options:
            return NO_OPTIONS
        heads, criteria, ids, ruled = self._heads, self._criteria, self._ids, self._ruled_out
        parts = []
        ruled_out = []
        for option in options:
            index = option.ind.index
            if option.outcome == "not_eligible":  # D14.9: its id and the criteria it does not meet
                ruled_out.append(f"{ruled[index]}{','.join(compress(ids[index], map(_is_not_met, option.results)))}]")
                continue
            decided = ",".join(map(_pick, criteria[index], option.results))
            needs, line, alternatives = option.needs, option.line_of_therapy, option.alternatives
            parts.append(
                f'{heads[index]}{_ELIGIBLE[option.outcome]}"criteria":{{{decided}}}'
                f'{f",{_NEEDS}{strings(needs)}" if needs else ""}'
                f'{f",{_LINE}{_quote(line)}" if line is not None else ""}'
                f'{f",{_ALTERNATIVES}{strings(alternatives)}" if alternatives else ""}}}'
            )
        return f'"therapies":[{",".join(parts)}],"ruled_out":{{{",".join(ruled_out)}}}'
