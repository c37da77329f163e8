"""Checking a parser file in a child process, before anything is queued.

A parser's module-level code runs when it is imported, and it may print,
call `sys.exit()`, `os._exit()` or loop forever. Imported in the `run`
process itself, any of these would end or hang the command silently. So a
short-lived child imports and validates it, with a time limit, and hands
back what the run needs to know (name, version, fingerprint, tags, declared
outputs) as JSON on a pipe of its own; whatever the parser prints goes to
the child's stderr and is dropped unless the load fails.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from casparian_tui.sentinel.plugin import ParserInvalid, ParserSpec

LOAD_HINT = "Run it by hand to see why: python PARSER.py"


def inspect_parser(path: str | Path, timeout_s: float) -> ParserSpec:
    """The parser's spec (without its module), loaded in a child process; ParserInvalid when unusable."""
    path = Path(path).expanduser().absolute()
    # the child imports this very package, wherever the current directory is
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    read, write = os.pipe()
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "casparian_tui.sentinel.parser_probe", str(path), str(write)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(write,), env=env,
        )
    finally:
        os.close(write)
    with os.fdopen(read, "rb") as answer_pipe:
        try:
            _, err = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            child.kill()
            try:
                child.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                pass  # something it started still holds the pipe: no more to learn from it
            raise ParserInvalid(
                f"Parser {path.name} did not finish loading within {timeout_s:g} s (its module-level code "
                "runs at import).", hint="Move slow work into parse(), or raise --timeout.") from None
        answer = answer_pipe.read()
    if answer:
        return _spec_from(path, json.loads(answer))
    code = child.returncode
    how = f"was killed by signal {-code}" if code < 0 else f"exited with exit code {code}"
    last = (err or b"").decode("utf-8", "replace").strip().splitlines()[-1:]
    raise ParserInvalid(f"Parser {path.name} {how} while loading" + (f": {last[0][:200]}" if last else "."),
                        hint=LOAD_HINT)


def _spec_from(path: Path, answer: dict) -> ParserSpec:
    if "error" in answer:
        raise ParserInvalid(answer["error"], hint=answer.get("hint"))
    import pyarrow as pa

    outputs = {}
    for name, schema_b64 in answer["outputs"].items():
        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(schema_b64)))
        outputs[name] = {f.name: f.type for f in schema}
    return ParserSpec(path=path, name=answer["name"], version=answer["version"],
                      fingerprint=answer["fingerprint"], tags=tuple(answer["tags"]), outputs=outputs,
                      raw_outputs=answer.get("declared"))


def _child(path: str, answer_fd: int) -> int:
    import pyarrow as pa

    from casparian_tui.contracts.columns import declared_aliases
    from casparian_tui.sentinel.plugin import load_parser

    answer = os.fdopen(answer_fd, "w")
    os.dup2(2, 1)  # the parser's prints must not look like an answer
    try:
        spec = load_parser(path)
    except ParserInvalid as exc:
        reply = {"error": exc.message, "hint": exc.hint}
    except BaseException as exc:  # SystemExit or KeyboardInterrupt raised by the module itself
        reply = {"error": f"Parser {Path(path).name} raised {type(exc).__name__}({exc}) while loading."}
    else:
        reply = {"name": spec.name, "version": spec.version, "fingerprint": spec.fingerprint, "tags": list(spec.tags),
                 "outputs": {name: base64.b64encode(pa.schema(list(cols.items())).serialize().to_pybytes()).decode()
                             for name, cols in spec.outputs.items()},
                 "declared": declared_aliases(spec.raw_outputs, spec.outputs)}
    answer.write(json.dumps(reply))
    answer.close()
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], int(sys.argv[2])))
