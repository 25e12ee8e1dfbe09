"""`ccctl report journeys`: its options parse, a negative --top is refused by name, and the
text output shows outcomes, paths (a truncated one marked) and drop-off per flow."""

from __future__ import annotations

import pytest

from ccctl.commands import CommandError
from ccctl.commands.report_journeys import as_text, run
from ccctl.main import build_parser
from contactcenter.integration.v1 import integration_pb2


def test_options_parse_and_a_negative_top_is_refused() -> None:
    args = build_parser().parse_args(
        [
            "report",
            "journeys",
            "--tenant",
            "acme",
            "--start",
            "2026-03-29",
            "--end",
            "2026-03-30",
            "--top",
            "-1",
        ]
    )
    assert (args.tenant, args.flow, args.top, args.output) == ("acme", "", -1, "table")
    with pytest.raises(CommandError, match="--top: must not be negative"):
        run(args)


def test_the_text_shows_outcomes_paths_and_drop_off() -> None:
    reply = integration_pb2.GetJourneyReportResponse(
        flows=[
            integration_pb2.JourneyFlowReport(
                flow="triage",
                version=2,
                journeys=3,
                outcomes={"handed_off": 2, "completed": 1},
                paths=[
                    integration_pb2.JourneyPathCount(path=["greet", "to-support"], journeys=2),
                    integration_pb2.JourneyPathCount(path=["greet", "loop"], journeys=1, truncated=True),
                ],
                drop_offs=[
                    integration_pb2.JourneyDropOff(node="to-support", outcome="handed_off", journeys=2)
                ],
                average_duration_seconds=12.25,
            )
        ]
    )
    assert as_text(reply).splitlines() == [
        "triage v2: 3 journeys (completed 1, handed_off 2), mean 12.2s",
        "  paths:",
        "         2  greet > to-support",
        "         1  greet > loop > ...",
        "  ended at:",
        "         2  to-support (handed_off)",
    ]
