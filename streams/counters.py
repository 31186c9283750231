"""What each agent has done, counted in-process (exported by the metrics issue)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AgentCounters:
    processed: int = 0
    dead_lettered: int = 0
    retried: int = 0
    batches: int = 0


@dataclass
class PipelineCounters:
    classify: AgentCounters = field(default_factory=AgentCounters)
    persist: AgentCounters = field(default_factory=AgentCounters)
    stored_new: int = 0
