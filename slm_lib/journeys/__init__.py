"""Customer journeys across contacts and time (issue 13): repeat contact, channel switching, stages, paths.

Modules: :mod:`~slm_lib.journeys.repeat` (``repeat_contacts``, ``repeat_contact_rate``: a new
contact within N days of a solved ticket; the kernel, shared with ``metric_table``, is
:mod:`slm_lib.metrics.contacts`), :mod:`~slm_lib.journeys.switching` (``channel_switching``:
follow-ups on another channel, the transition matrix), :mod:`~slm_lib.journeys.stage_spec`
(user stage definitions, checked) and :mod:`~slm_lib.journeys.stages` (``journey_stages``:
metrics per stage), :mod:`~slm_lib.journeys.paths` (``paths_before_churn``: the last
touchpoints of churned vs tenure-matched retained customers, with lift) and
:mod:`~slm_lib.journeys.wording` (``journey_sentences`` and its parts, for reports).
"""
from slm_lib.journeys.paths import PathsBeforeChurn, paths_before_churn
from slm_lib.journeys.repeat import repeat_contact_rate, repeat_contacts
from slm_lib.journeys.stage_spec import Stage, parse_stages
from slm_lib.journeys.stages import journey_stages
from slm_lib.journeys.switching import ChannelSwitching, channel_switching
from slm_lib.journeys.wording import journey_sentences, paths_sentences, repeat_sentences, switching_sentences

__all__ = ["repeat_contacts", "repeat_contact_rate", "channel_switching", "ChannelSwitching", "journey_stages", "parse_stages",
           "paths_before_churn", "PathsBeforeChurn",
           "journey_sentences", "repeat_sentences", "switching_sentences", "paths_sentences",
           "Stage"]
