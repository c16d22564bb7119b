"""The FUNCTION target: run the chrono's user function once in the sandbox."""

from automations.targets import Outcome


def run(chrono, run, context: dict) -> Outcome:
    """Run chrono.function with the run's input; the run keeps value, logs, counts and errors."""
    function = chrono.function
    if function is None:
        return Outcome(ok=False, error="This FUNCTION chrono has no function.", retryable=False)
    return function.run_once(input=run.input, chrono=chrono, run=run).to_outcome()
