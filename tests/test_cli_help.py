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


def test_every_option_field_has_a_help_group():
    import dataclasses

    from fastshade.cli_args import FIELD_GROUPS, GROUPS
    from fastshade.options import ShadeOptions

    missing = [f.name for f in dataclasses.fields(ShadeOptions) if f.name not in FIELD_GROUPS
               and f.name != "explicit"]  # filled from the flags given, not a flag
    assert not missing, ("ShadeOptions fields with no help group in fastshade.cli_args.FIELD_GROUPS "
                         f"(they fall back to 'expert'): {', '.join(missing)}")
    assert set(FIELD_GROUPS.values()) <= set(GROUPS)


def _help_text(command: str) -> str:
    parser = cli.build_parser([command])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command].format_help()


def test_common_flags_come_first_and_fit_one_screen():
    text = _help_text("shade")
    lines = text.splitlines()
    heads = [next(i for i, line in enumerate(lines) if line.startswith(title))
             for title in ("input and output", "look", "performance", "expert")]
    assert heads == sorted(heads), heads
    # input/output and look (the flags most runs touch) within one 60-line screen
    assert heads[2] <= 60, f"the look group ends on line {heads[2]}"
    assert lines[0].startswith("usage: fastshade shade (TARGET | --demo) -o OUTPUT")


def test_run_help_is_short_and_points_to_the_expert_flags():
    text = _help_text("run")
    assert len(text.splitlines()) <= 150, len(text.splitlines())
    assert "every expert flag of 'fastshade shade --help' works here too" in text


@pytest.mark.parametrize("flag, field, value", [
    ("--void-heat-steps", "heat_steps", 7), ("--void-heat-step", "heat_alpha", 0.05),
    ("--min-shadow-size", "min_component", 3), ("--thicken-radius", "thick_radius", 2),
    ("--basis-vectors", "k", 6), ("--shadow-hue", "hue_angle", 0.5),
    ("--field-smoothing", "field_smoothing", 5.0),
])
def test_renamed_flags_set_their_option(flag, field, value):
    from fastshade.cli_args import options_from_args

    args = cli.build_parser(["run"]).parse_args(["run", "in", "out", flag, str(value)])
    assert getattr(options_from_args(args), field) == value


def test_readme_option_table_lists_every_flag_in_its_group():
    import dataclasses
    import re
    from pathlib import Path

    from fastshade.cli_args import FALLBACK_GROUP, FIELD_GROUPS, GROUPS, flag_of
    from fastshade.options import ShadeOptions

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Options"):]
    section = section[:section.index("\nPython:")]
    listed: dict[str, str] = {}
    group = None
    for line in section.splitlines():
        head = re.match(r"\*\*(.+)\*\*$", line.strip())
        if head:
            group = next(k for k, title in GROUPS.items() if title == head.group(1))
        row = re.match(r"\| `(--[a-z0-9-]+)` \|", line)
        if row:
            listed[row.group(1)] = group
    expected = {flag_of(f.name): FIELD_GROUPS.get(f.name, FALLBACK_GROUP) for f in dataclasses.fields(ShadeOptions)
                if f.name != "explicit"}
    assert listed == expected
