"""The bootstrap file: customers and Links learned at start; every bad line named by file and line."""

from __future__ import annotations

import json
import logging

import pytest

from consumer.contacts.directory import BootstrapError, MemoryDirectory, load_bootstrap_file
from transforms.activity import Contact

GOOD = [
    {"ref": "stripe:cus_1", "email": "rachel@example.com", "phone": "+15555550100"},
    {"ref": "stripe:ch_1", "alias_of": "stripe:cus_1"},
    {"ref": "shopify:customer:7", "contact": {"email": "monica@example.com"}},
    [{"ref": "shopify:order:450789469", "alias_of": "shopify:customer:7"},
     {"ref": "woocommerce:order:9", "unique_external_id": "wc-9"}],
]


def write(tmp_path, lines: list[str]):
    path = tmp_path / "customers.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_good_file_is_learned_whole_with_a_progress_line(tmp_path, caplog):
    path = write(tmp_path, [json.dumps(v) for v in GOOD[:2]] + ["", "  "]
                 + [json.dumps(v) for v in GOOD[2:]])
    d = MemoryDirectory()
    with caplog.at_level(logging.INFO, logger="consumer.directory"):
        result = load_bootstrap_file(d, path, progress_every=2)
    assert (result.lines, result.links) == (6, 5)
    assert d.resolve(["stripe:ch_1"]) == Contact(email="rachel@example.com", phone="+15555550100")
    assert d.resolve(["shopify:order:450789469"]) == Contact(email="monica@example.com")
    assert d.resolve(["woocommerce:order:9"]) == Contact(unique_external_id="wc-9")
    progress = [r for r in caplog.records if r.getMessage() == "contact directory bootstrap in progress"]
    assert [r.links for r in progress] == [2, 4]
    done = [r for r in caplog.records if r.getMessage() == "contact directory bootstrapped"]
    assert done and done[0].links == 5 and done[0].file == str(path)


@pytest.mark.parametrize(("line", "says"), [
    ('{"ref": "stripe:cus_2", "email": 123}', "email must be a string, not int 123"),
    ('{"ref": "stripe:cus_2", "emial": "a@example.com"}', "unknown key(s) emial"),
    ('{"email": "a@example.com"}', "ref must be"),
    ('{"ref": "cus_2", "email": "a@example.com"}', 'ref must be "<vendor>:<id>"'),
    ('{"ref": "stripe:cus_2"}', "stripe:cus_2 teaches nothing"),
    ('{"ref": "stripe:cus_2", "email": "   "}', "teaches nothing"),
    ('{"ref": "stripe:cus_2", "contact": {"email": "a@x.io"}, "phone": "+1"}', "not both"),
    ('{"ref": "stripe:cus_2", "contact": "a@x.io"}', "contact must be an object"),
    ('"stripe:cus_2"', "expected a JSON object, got str"),
    ('{"ref": "stripe:cus_2", "email": "a@x.io"', "not JSON: "),
])
def test_a_bad_line_is_named_by_file_and_line_and_the_good_lines_are_learned(tmp_path, line, says):
    path = write(tmp_path, [json.dumps(GOOD[0]), line, json.dumps(GOOD[1])])
    d = MemoryDirectory()
    with pytest.raises(BootstrapError) as e:
        load_bootstrap_file(d, path)
    text = str(e.value)
    assert f"{path}:2: " in text and says in text, text
    assert "fix:" in text and f"{path}:1" not in text and f"{path}:3" not in text
    assert d.resolve(["stripe:ch_1"]) == Contact(email="rachel@example.com", phone="+15555550100")


def test_many_bad_lines_are_counted_and_the_first_twenty_shown(tmp_path):
    path = write(tmp_path, ['{"ref": "x"}'] * 25)
    with pytest.raises(BootstrapError) as e:
        load_bootstrap_file(MemoryDirectory(), path)
    assert "25 bad line(s)" in str(e.value) and "and 5 more" in str(e.value)
    assert len(e.value.problems) == 20 and f"{path}:20:" in str(e.value)
