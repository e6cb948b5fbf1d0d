"""Every flag of ``shade --help`` and ``run --help`` says what it does (issue 22, point 3)."""

from __future__ import annotations

import argparse

import pytest

from fastshade import cli


def _flags_without_help(command: str) -> list[str]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    bare = []
    for action in sub.choices[command]._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        text = (action.help or "").strip()
        # a bare "(default X)" is not a description
        if not text or text.startswith("(default"):
            bare.append("/".join(action.option_strings))
    return bare


@pytest.mark.parametrize("command", ["shade", "run"])
def test_every_flag_has_a_description(command):
    assert _flags_without_help(command) == []
