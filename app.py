#!/usr/bin/env python3
"""The CDK app's entry point (cdk.json's ``app``); the app itself is ``stacks/cdk_app.py``.

Node starts the CDK's CloudFormation Validate engine (about a second of WebAssembly, paid by
every synth) while Python imports the app's modules, on the other core: about 0.4 s of a dev
synth (docs/benchmarks.md). jsii has one pipe to Node and no lock, so the overlap holds only
while importing the app's modules sends nothing to Node: ``tests/unit/test_app_entry.py`` holds
that, naming any call at import time.
"""

from __future__ import annotations

import gc
import os
import sys
import threading

# Both load their assemblies into Node now, before the overlap below.
import cdk_nag  # noqa: F401
from aws_cdk import CloudFormationValidatePlugin


class EngineStart(threading.Thread):
    """Makes the CloudFormation Validate plugin (its constructor starts the engine) in a thread."""

    def __init__(self) -> None:
        super().__init__(name="cloudformation-validate", daemon=True)
        self.plugin: CloudFormationValidatePlugin | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.plugin = CloudFormationValidatePlugin()
        except BaseException as error:
            self.error = error

    def result(self) -> CloudFormationValidatePlugin:
        self.join()
        if self.error is not None:
            raise self.error
        assert self.plugin is not None
        return self.plugin


def main() -> int:
    # CDK_VALIDATION=false turns the CDK's own validation off: nothing to make ahead then.
    engine = EngineStart() if os.environ.get("CDK_VALIDATION") != "false" else None
    if engine is not None:
        engine.start()
    from stacks.cdk_app import synth  # noqa: PLC0415 -- imported while the engine starts

    plugin = engine.result() if engine is not None else None
    # The modules imported (the CDK's bindings: some 230,000 objects) live as long as the process.
    # Frozen, the garbage collector skips them at each collection; frozen again with what the synth
    # made, at exit too (about 0.5 s of a dev synth, docs/benchmarks.md).
    gc.freeze()
    try:
        return synth(cloudformation_validate=plugin)
    finally:
        gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
