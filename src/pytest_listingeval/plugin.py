"""pytest-listingeval: options, markers and hook wiring; the logic lives in named modules."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from pytest_listingeval import hooks
from pytest_listingeval.cassettes import CassetteFilters
from pytest_listingeval.cmdline import rechoose_rootdir
from pytest_listingeval.coverage import CASE_SUFFIXES
from pytest_listingeval.documents import incomplete_text, write_text_atomically
from pytest_listingeval.finish import Finished, finish
from pytest_listingeval.items import (
    MISMATCH_ATTRIBUTE,
    NO_CASES_NAME,
    RESULT_ATTRIBUTE,
    CaseFile,
    CaseItem,
    NoCasesItem,
)
from pytest_listingeval.outcome import GATE_MODES
from pytest_listingeval.results import CaseResult
from pytest_listingeval.runner import image_label, run_case
from pytest_listingeval.session import EvalSession
from pytest_listingeval.settings import resolve
from pytest_listingeval.state import SESSION_KEY, session_of
from pytest_listingeval.terminal import write_summary


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """The hooks a project implements to extend listingeval (hooks.py)."""
    pluginmanager.add_hookspecs(hooks)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Every option in one group; contract names `--baseline` and `--update-baseline`."""
    group = parser.getgroup("listingeval", "listingeval evaluation")
    group.addoption(
        "--baseline",
        dest="eval_baseline",
        default=None,
        metavar="REF|PATH",
        help="compare with REF:reports/baseline.json (git ref, then origin/REF) or a JSON file",
    )
    group.addoption(
        "--update-baseline",
        dest="eval_update_baseline",
        action="store_true",
        default=False,
        help="rewrite the baseline file from this run",
    )
    group.addoption(
        "--eval-model",
        dest="eval_model",
        default=None,
        help="model to evaluate (env LISTINGEVAL_MODEL)",
    )
    group.addoption(
        "--eval-prompt",
        dest="eval_prompt",
        default=None,
        help="prompt name (env LISTINGEVAL_PROMPT)",
    )
    group.addoption(
        "--eval-tolerance",
        dest="eval_tolerance",
        default=None,
        type=float,
        metavar="POINTS",
        help="allowed drop in accuracy points (1 point = 0.01) before a regression; default 0",
    )
    group.addoption(
        "--eval-gate",
        dest="eval_gate",
        default=None,
        choices=GATE_MODES,
        help="strict: any drop beyond the tolerance fails (default); significant: it must also be significant",
    )
    group.addoption(
        "--eval-alpha",
        dest="eval_alpha",
        default=None,
        type=float,
        help="significance level of the significant gate (default 0.05)",
    )
    group.addoption(
        "--eval-allow-subset",
        dest="eval_allow_subset",
        action="store_true",
        default=False,
        help="gate on the cases that ran even when the run left out part of the case set (reported as partial)",
    )
    group.addoption(
        "--eval-min-shared",
        dest="eval_min_shared",
        default=None,
        type=int,
        metavar="N",
        help="fail when the baseline shares fewer than N scored cases with the run (default 1)",
    )
    group.addoption(
        "--eval-json",
        dest="eval_json",
        default=None,
        metavar="PATH",
        help="write the results JSON here",
    )
    group.addoption(
        "--eval-report",
        dest="eval_report",
        default=None,
        metavar="PATH",
        help="write the HTML report here",
    )
    group.addoption(
        "--eval-markdown",
        dest="eval_markdown",
        default=None,
        metavar="PATH",
        help="write a markdown PR comment here",
    )
    group.addoption(
        "--eval-report-url",
        dest="eval_report_url",
        default=None,
        metavar="URL",
        help="link to the published HTML report, used in the markdown",
    )
    group.addoption(
        "--eval-repeat",
        dest="eval_repeat",
        default=None,
        type=int,
        metavar="N",
        help="run each case N times (a cassette per repeat); scores become pass rates, flaky cases are listed",
    )
    group.addoption(
        "--eval-judge-model",
        dest="eval_judge_model",
        default=None,
        help="model that grades `judge` checks (default: [tool.listingeval] judge_model, else the eval model)",
    )
    group.addoption(
        "--eval-concurrency",
        dest="eval_concurrency",
        default=None,
        type=int,
        metavar="N",
        help="run up to N cases at once in threads of one process (for live recording; default 1)",
    )
    group.addoption(
        "--eval-mlflow",
        dest="eval_mlflow",
        action="store_true",
        default=False,
        help="log the run to MLflow (also on when MLFLOW_TRACKING_URI is set); needs listingeval[mlflow]",
    )
    group.addoption(
        "--eval-no-run-record",
        dest="eval_no_run_record",
        action="store_true",
        default=False,
        help="do not write reports/runs/<time>-<id>.json",
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, object, object]:
    """Undo a rootdir chosen from one of our option values, before pytest captures output."""
    rechoose_rootdir(early_config, parser, args)
    return (yield)


def _writes_html(config: pytest.Config) -> bool:
    """pytest-html is loaded whenever installed; build its per-case extras only with --html."""
    return config.pluginmanager.hasplugin("html") and bool(getattr(config.option, "htmlpath", None))


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    """Register the `eval` marker, create the session state, hook up pytest-html extras."""
    # Cases carry `eval`; a project that never declared it must still run under --strict-markers.
    config.addinivalue_line("markers", "eval: an evaluation case from the cases folder, scored per field")
    config.stash[SESSION_KEY] = EvalSession(settings=resolve(config), pluginmanager=config.pluginmanager)
    if not _is_controller(config):
        return
    controller = ControllerPlugin(config)
    config.pluginmanager.register(controller, "listingeval-controller")
    if config.pluginmanager.hasplugin("html"):
        from pytest_listingeval.report.pytest_html import PytestHtmlEvalExtras

        config.pluginmanager.register(PytestHtmlEvalExtras(lambda: controller.outcome), "listingeval-html")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> CaseFile | None:
    """Every YAML file under the cases folder is a case."""
    if file_path.suffix not in CASE_SUFFIXES:
        return None
    cases_root = session_of(parent.config).settings.cases_root
    if not file_path.is_relative_to(cases_root):
        return None
    item: CaseFile = CaseFile.from_parent(parent, path=file_path)
    return item


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """`pytest -m eval` on the default testpaths collects only the cases folder (no test modules to import)."""
    # A speed-up only: what counts as an eval run is decided from the selected items.
    if config.args_source != pytest.Config.ArgsSource.TESTPATHS:
        return None
    if (getattr(config.option, "markexpr", "") or "").strip() != "eval":
        return None
    cases_root = session_of(config).settings.cases_root
    if collection_path.is_relative_to(cases_root) or cases_root.is_relative_to(collection_path):
        return None
    return True


def _covers_cases_folder(session: pytest.Session) -> bool:
    """True when the paths pytest collected include the whole cases folder."""
    cases_root = session_of(session.config).settings.cases_root
    here = session.config.invocation_params.dir
    for arg in session.config.args:
        path = (here / arg.split("::", 1)[0]).resolve()
        if cases_root.resolve().is_relative_to(path):
            return True
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """An empty case set gets a stand-in item, so pytest's -m/-k decide whether eval was asked for."""
    state = session_of(config)
    if not state.settings.task or any(isinstance(item, CaseItem) for item in items):
        return
    if not _covers_cases_folder(session):
        return
    folder = image_label(state.settings, state.settings.cases_root)
    message = (
        f"no eval case was collected: looked for *.yaml case files in {folder}/ "
        "(add cases there or set [tool.listingeval] cases)"
    )
    items.append(
        NoCasesItem.from_parent(session, name=NO_CASES_NAME, nodeid=f"{folder}::{NO_CASES_NAME}", message=message)
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """After selection: the model and prompt exist, recording has what it needs; remember the selected cases."""
    state = session_of(session.config)
    cases = [item for item in session.items if isinstance(item, CaseItem)]
    for item in cases:
        state.selected[item.nodeid] = item.case.id
    if cases:
        _ = state.description
        state.check_ready()
        # Every conftest is loaded by now, so every implementation of the hook is heard.
        found = session.config.hook.pytest_listingeval_cassette_filters(config=session.config)
        state.cassette_filters = CassetteFilters.combine(found)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """With --eval-concurrency N, run the selected cases N at a time before pytest reports them."""
    state = session_of(session.config)
    items = [item for item in session.items if isinstance(item, CaseItem)]
    if state.settings.concurrency <= 1 or len(items) < 2 or hasattr(session.config, "workerinput"):
        return
    if session.config.option.collectonly or session.testsfailed:
        return
    from pytest_listingeval.concurrent import ConcurrentCassettes, run_all

    cassettes = ConcurrentCassettes(state.settings.record_mode, state.cassette_filters)
    settings, task, description = state.settings, state.task, state.description

    def work(item: CaseItem) -> None:
        item.prefetched = run_case(settings, task, description, item.case, cassettes.use)

    with cassettes.patched():
        run_all(items, work, settings.concurrency)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the scored case to its report so it survives xdist."""
    report = yield
    if isinstance(item, CaseItem) and call.when == "call" and item.result is not None:
        setattr(report, RESULT_ATTRIBUTE, item.result.to_json())
        setattr(report, MISMATCH_ATTRIBUTE, bool(item.result.mismatched_fields))
        if _writes_html(item.config):
            from pytest_listingeval.report.pytest_html import case_extras

            report.extras = [  # type: ignore[attr-defined]
                *getattr(report, "extras", []),
                *case_extras(item.result, session_of(item.config).settings.root),
            ]
    return report


_UNFINISHED = (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR)


class ControllerPlugin:
    """Registered on the controller only: gathers results, decides once, delivers and prints."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.state = session_of(config)
        self.finished: Finished | None = None

    @property
    def outcome(self) -> Any:
        """The final outcome once the run is decided (for pytest-html's summary)."""
        return self.finished.delivery.outcome if self.finished else None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Say `incomplete` in the results JSON until the run ends: a file still saying so means it died."""
        path = self.state.settings.json_path
        if path is None:
            return
        try:
            write_text_atomically(path, incomplete_text(self.state.incomplete()))
        except OSError as exc:
            self.state.startup_errors.append(f"cannot write {path}: {exc.strerror or exc}")

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """Remember which cases were selected (xdist controller)."""
        root, cases_root = self.state.settings.node_root, self.state.settings.cases_root
        for nodeid in ids:
            path, sep, name = nodeid.partition("::")
            if sep and path.endswith(CASE_SUFFIXES) and (root / path).is_relative_to(cases_root):
                self.state.selected[nodeid] = name

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A malformed case file is a harness error of the run too, so every output says so."""
        if report.failed and report.nodeid.endswith(CASE_SUFFIXES):
            self.state.collection_errors.append(str(report.longrepr).strip().splitlines()[-1])

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Keep each case's result; note why a case produced none."""
        data = getattr(report, RESULT_ATTRIBUTE, None)
        if data is not None:
            result = CaseResult.from_json(data)
            self.state.results[result.id] = result
        elif report.failed and report.nodeid.endswith(f"::{NO_CASES_NAME}"):
            self.state.no_cases_ran = True
        elif report.failed and report.nodeid in self.state.selected:
            lines = report.longreprtext.strip().splitlines()
            self.state.failures[report.nodeid] = lines[-1] if lines else f"failed during {report.when}"

    def _is_eval_run(self) -> bool:
        state = self.state
        return bool(state.selected or state.results or state.no_cases_ran or state.settings.explicit_eval)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Decide the verdict once, deliver every output from it, and set the exit status to match."""
        if self.config.option.collectonly or exitstatus in _UNFINISHED or not self._is_eval_run():
            return
        interrupted = None
        if exitstatus == pytest.ExitCode.INTERRUPTED and not self.state.collection_errors:
            interrupted = "the run was interrupted before every case reported a result"
        self.finished = finish(self.state, self.config.getini("norecursedirs"), interrupted)
        outcome = self.finished.delivery.outcome
        # A case file that does not load makes pytest say "interrupted" (2); for the gate it is an error (1).
        overridable = [pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED]
        if self.state.collection_errors:
            overridable.append(pytest.ExitCode.INTERRUPTED)
        if outcome.failed and session.exitstatus in overridable:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Print the eval summary table and the verdict."""
        if self.finished is not None:
            written = dict(self.finished.delivery.written)
            if self.finished.mlflow_run_id and "MLflow run" in written:
                written["MLflow run"] = self.finished.mlflow_run_id
            write_summary(terminalreporter, self.finished.delivery.outcome, written)


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, Any] | None:
    """A case whose fields do not all match shows as M / MISMATCH without failing."""
    if report.when == "call" and report.passed and getattr(report, MISMATCH_ATTRIBUTE, False):
        return "mismatch", "M", ("MISMATCH", {"yellow": True})
    return None
