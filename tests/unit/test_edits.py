"""The edit contract: only train.py, exact single matches in turn, a result that differs and compiles."""

from __future__ import annotations

import re

import pytest

from shared.edits import EDITABLE, Edit, EditError, apply_edits, editable_path

SOURCE = "DEPTH = 4\nLEARNING_RATE = 0.01\n\ndef lr():\n    return LEARNING_RATE\n"


def test_good_edit_replaces_the_matched_text():
    result = apply_edits(SOURCE, [Edit(search="DEPTH = 4", replace="DEPTH = 6")])
    assert result == SOURCE.replace("DEPTH = 4", "DEPTH = 6")


def test_edits_apply_in_order_each_on_the_previous_result():
    edits = [Edit(search="DEPTH = 4", replace="DEPTH = 5"), Edit(search="DEPTH = 5", replace="DEPTH = 7")]
    assert apply_edits(SOURCE, edits).startswith("DEPTH = 7\n")


def test_dot_slash_train_py_is_the_same_file():
    result = apply_edits(SOURCE, [Edit(path="./train.py", search="DEPTH = 4", replace="DEPTH = 8")])
    assert "DEPTH = 8" in result


def test_search_that_does_not_occur_is_rejected_with_how_to_fix_it():
    with pytest.raises(EditError) as caught:
        apply_edits(SOURCE, [Edit(search="WIDTH = 4", replace="WIDTH = 8")])
    assert str(caught.value) == (
        "edit 1: the search text does not occur in train.py; it must be copied exactly "
        "(whitespace included) and match exactly once: 'WIDTH = 4'"
    )


def test_search_that_occurs_twice_is_rejected_with_the_count():
    with pytest.raises(EditError, match="occurs 2 times"):
        apply_edits(SOURCE, [Edit(search="LEARNING_RATE", replace="LR")])


def test_count_names_the_failing_edit_number():
    edits = [Edit(search="DEPTH = 4", replace="DEPTH = 5"), Edit(search="missing", replace="x")]
    with pytest.raises(EditError, match="edit 2"):
        apply_edits(SOURCE, edits)


@pytest.mark.parametrize("path", ["train.py", "./train.py"])
def test_train_py_with_or_without_dot_slash_is_the_editable_file(path: str):
    assert editable_path(path) == EDITABLE


@pytest.mark.parametrize("path", ["prepare.py", "src/train.py", "../train.py", ".//train.py", "/train.py", "train.py.bak"])
def test_any_other_path_is_not_editable(path: str):
    with pytest.raises(EditError, match=re.escape(f"only train.py may change, not '{path}'")):
        editable_path(path)


def test_path_error_is_a_value_error_so_pydantic_validators_can_raise_it():
    assert issubclass(EditError, ValueError)


@pytest.mark.parametrize("path", ["prepare.py", "../train.py"])
def test_edit_of_another_path_is_rejected_naming_the_edit(path: str):
    edits = [Edit(search="DEPTH = 4", replace="DEPTH = 5"), Edit(path=path, search="DEPTH = 5", replace="DEPTH = 6")]
    with pytest.raises(EditError, match=re.escape(f"edit 2: only train.py may change, not '{path}'")):
        apply_edits(SOURCE, edits)


def test_result_that_does_not_compile_is_rejected_naming_the_line():
    with pytest.raises(EditError, match="does not compile") as caught:
        apply_edits(SOURCE, [Edit(search="    return LEARNING_RATE", replace="    return (LEARNING_RATE")])
    assert "line 5" in str(caught.value)


def test_no_op_edit_is_rejected():
    with pytest.raises(EditError, match="unchanged"):
        apply_edits(SOURCE, [Edit(search="DEPTH = 4", replace="DEPTH = 4")])


def test_edits_that_cancel_out_are_rejected():
    edits = [Edit(search="DEPTH = 4", replace="DEPTH = 5"), Edit(search="DEPTH = 5", replace="DEPTH = 4")]
    with pytest.raises(EditError, match="unchanged"):
        apply_edits(SOURCE, edits)
