"""A failed run's reason: the last meaningful line of its log, over real tracebacks and real shell errors."""

from __future__ import annotations

import subprocess
import traceback
from datetime import UTC, datetime, timedelta

from services.trainer.crash_reason import crash_reason, failure_reason, with_reason
from shared.events import METRICS_MAX

NOW = datetime(2025, 11, 27, tzinfo=UTC)
# What Karpathy's train.py prints before it starts training, and a step line as it prints it (`\r`, end="").
PREAMBLE = "Vocab size: 8,192\nModel config: {'n_layer': 8}\nTime budget: 300s\n"
STEP = ("\rstep 00042 (14.0%) | loss: 3.241000 | lrm: 1.00 | dt: 310ms | tok/sec: 1,690,000 | mfu: 40.1% | epoch: 1 | "
        "remaining: 258s    ")


def formatted(error: BaseException) -> str:
    """The traceback Python prints for an uncaught error."""
    return "".join(traceback.format_exception(error))


def raised(action) -> BaseException:
    try:
        action()
    except BaseException as error:  # noqa: BLE001 (any error: its traceback is what is tested)
        return error
    raise AssertionError("nothing was raised")


def shell_error(command: str) -> str:
    """What the shell writes when the train command cannot start."""
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True).stderr


def test_a_missing_module_reads_as_its_exception_line():
    error = raised(lambda: __import__("kernels_that_are_not_installed"))
    log = PREAMBLE + formatted(error)
    assert crash_reason(log) == "ModuleNotFoundError: No module named 'kernels_that_are_not_installed'"


def test_a_missing_program_reads_as_the_shells_words():
    message = shell_error("exec no-such-tool run train.py")
    assert "not found" in message
    assert crash_reason(message) == message.strip()
    assert crash_reason("Installed 41 packages in 212ms\n" + shell_error("uv-is-not-here run train.py")).endswith(
        "uv-is-not-here: not found")


def test_the_last_of_chained_errors_is_the_reason():
    def chained() -> None:
        try:
            {}["tokenizer"]
        except KeyError as inner:
            raise RuntimeError("could not load the tokenizer") from inner

    log = PREAMBLE + formatted(raised(chained)) + "\n"
    assert crash_reason(log) == "RuntimeError: could not load the tokenizer"


def test_a_message_over_several_lines_reads_as_its_first():
    error = raised(lambda: (_ for _ in ()).throw(ValueError("bad shapes\nexpected: (1, 2)\n  got (2, 1)")))
    assert crash_reason(formatted(error)) == "ValueError: bad shapes"


def test_an_error_raised_from_inside_torch_reads_as_the_inner_error_not_torchs_hints():
    log = (PREAMBLE + STEP + "\nTraceback (most recent call last):\n  File \"train.py\", line 571, in <module>\n"
           "    loss = model(x, y)\n           ^^^^^^^^^^^\n"
           "torch._dynamo.exc.BackendCompilerFailed: backend='inductor' raised:\n"
           "RuntimeError: Cannot find a working triton installation.\n\n"
           "Set TORCHDYNAMO_VERBOSE=1 for the internal stack trace (please do this especially if you're reporting a bug "
           "to PyTorch). For even more developer context, set TORCH_LOGS=\"+dynamo\"\n\n")
    assert crash_reason(log) == "RuntimeError: Cannot find a working triton installation."


def test_what_is_printed_after_a_step_line_is_the_reason_not_the_step():
    log = PREAMBLE + STEP + STEP.replace("00042", "00043") + "FAIL\n"
    assert crash_reason(log) == "FAIL"


def test_step_lines_and_blank_lines_are_skipped():
    log = PREAMBLE + "RuntimeError: CUDA out of memory (simulated)\n" + STEP + "\n\n   \n"
    assert crash_reason(log) == "RuntimeError: CUDA out of memory (simulated)"


def test_a_log_that_says_nothing_gives_no_reason():
    assert crash_reason("") is None
    assert crash_reason(STEP + "\n\n") is None
    assert crash_reason("Traceback (most recent call last):\n  File \"train.py\", line 1, in <module>\n") is None


def test_the_reason_is_one_printable_bounded_line():
    reason = crash_reason("RuntimeError: \x1b[31mred\x1b[0m " + "x" * 2000 + "\n")
    assert reason is not None and reason.startswith("RuntimeError: red x") and "\x1b" not in reason
    assert len(reason) == 500


def test_a_timeout_says_how_long_the_run_had():
    assert failure_reason("timeout", STEP, 600.0, NOW, NOW + timedelta(seconds=603)) == "timed out after 600 s"
    assert failure_reason("timeout", STEP, None, NOW, NOW + timedelta(seconds=12.4)) == "timed out after 12 s"
    assert failure_reason("crash", "/bin/sh: 1: uv: not found\n", 600.0, NOW, NOW) == "/bin/sh: 1: uv: not found"
    assert failure_reason("ok", "ValueError: x\n", 600.0, NOW, NOW) is None


def test_a_reason_already_given_is_kept_and_a_new_one_never_pushes_out_val_bpb():
    refused = {"val_bpb": 0.9, "crash_reason": "val_bpb was not computed by prepare.py"}
    assert with_reason(refused, "FAIL") == refused
    full = {"val_bpb": 0.9, **{f"m{i}": float(i) for i in range(METRICS_MAX - 1)}}
    added = with_reason(full, "FAIL")
    assert len(added) == METRICS_MAX and added["val_bpb"] == 0.9 and added["crash_reason"] == "FAIL"
    assert with_reason({"val_bpb": 0.9}, None) == {"val_bpb": 0.9}
