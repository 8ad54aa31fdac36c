"""values.yaml explains every key, and the chart README's table is generated from it."""

from __future__ import annotations

import pytest

from tests.chart.values_table import CHART, Undocumented, readme_with_table, rows


def test_the_readme_values_table_is_up_to_date():
    readme = (CHART / "README.md").read_text()
    assert readme_with_table(readme, (CHART / "values.yaml").read_text()) == readme, \
        "the chart README's values table is stale: run .venv/bin/python -m tests.chart.values_table"


def test_every_value_is_commented_and_the_first_line_points_at_the_schema():
    text = (CHART / "values.yaml").read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=values.schema.json"
    documented = {key for key, *_ in rows(text)}
    assert {"replicaCount", "config.kafka", "secret.existingSecret",
            "autoscaling.keda.maxReplicaCount", "terminationGracePeriodSeconds"} <= documented


def test_a_key_without_a_comment_is_an_error():
    with pytest.raises(Undocumented, match=r"image\.tag"):
        rows("image:\n  # -- the repository\n  repository: x\n  tag: ''\n")


def test_a_changed_default_makes_the_table_stale():
    readme = (CHART / "README.md").read_text()
    values = (CHART / "values.yaml").read_text().replace("replicaCount: 2", "replicaCount: 3")
    assert readme_with_table(readme, values) != readme
