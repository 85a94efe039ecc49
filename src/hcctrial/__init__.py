"""hcctrial: computable cell-therapy trials in advanced hepatocellular carcinoma.

The protocol is code (a validated YAML file); one engine screens patients, builds calendars
and doses, judges tumour response, grades toxicity, applies DLT and dose-escalation rules,
derives endpoints and reports them, over real study data or simulated virtual trials.
"""

from __future__ import annotations

__version__ = "0.1.0"

from hcctrial.protocol import builtin_protocols, load_protocol

__all__ = ["__version__", "builtin_protocols", "load_protocol"]
