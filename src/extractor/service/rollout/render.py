"""The rollout status as terminal lines (the dashboard page renders the same status as HTML)."""

from __future__ import annotations

import math

from extractor.service.rollout.commands import RolloutStatus


def number(value: float | None, name: str = "") -> str:
    """A metric value in its unit: rates in percent, latency in ms, cost in USD."""
    if value is None:
        return "-"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    if name.endswith("_ms"):
        return f"{value:.0f} ms"
    if name.endswith("_usd"):
        return f"-${-value:.5f}" if value < 0 else f"${value:.5f}"
    return f"{value * 100:.1f} %"


def interval(ci: tuple[float, float] | None, name: str) -> str:
    """`[low, high]` in the metric's unit."""
    if ci is None:
        return "-"
    return f"[{number(ci[0], name)}, {number(ci[1], name)}]"


def status_lines(status: RolloutStatus) -> list[str]:
    """Readable lines: the rollout, shares, decision, metrics, sample ratio, events, shadow."""
    rollout = status.rollout
    shares = ", ".join(f"{name} {share * 100:.1f} %" for name, share in status.shares.items())
    if rollout is None:
        lines = ["no rollout yet", f"shares: {shares}"]
    else:
        steps = ", ".join(f"{s:g}" for s in rollout.steps)
        lines = [
            f"rollout of {rollout.candidate} against {rollout.control}: {rollout.state}"
            f" at {rollout.step_percent:g} % (steps {steps})",
            f"shares: {shares}",
        ]
    decision = status.decision
    if decision is not None:
        lines.append(f"decision: {decision.action.replace('_', ' ')}: {decision.why}")
        lines.append("")
        lines.append(f"{'metric':<34} {'control':>11} {'candidate':>11} {'diff':>11}  interval (candidate - control)")
        for metric in decision.metrics:
            flag = "  BREACH" if metric.breached else ""
            name = metric.name
            arms = f"{number(metric.control, name):>11} {number(metric.candidate, name):>11}"
            lines.append(f"{name:<34} {arms} {number(metric.diff, name):>11}  {interval(metric.ci, name)}{flag}")
        ratio = decision.sample_ratio
        if ratio is not None:
            verdict = "MISMATCH: assignment is broken" if ratio.mismatch else "ok"
            lines.append(f"sample ratio: chi2 {ratio.chi2:.2f} on {ratio.df} df, p {ratio.p_value:.3g} ({verdict})")
    if status.events:
        lines.append("")
        lines.append("events:")
        for event in status.events:
            step = f" at {event.step_percent:g} %" if event.step_percent is not None else ""
            lines.append(f"  {event.at.isoformat(timespec='seconds')} {event.kind}{step} by {event.by}: {event.why}")
    shadow = status.shadow
    if shadow is not None:
        lines.append("")
        running = status.routing.shadow_variant == shadow.variant
        lines.append(
            f"shadow {shadow.variant} ({'running' if running else 'stopped'}): {shadow.calls} calls {shadow.statuses}"
        )
        for agreement in shadow.fields:
            lines.append(
                f"  {agreement.field:<12} agrees with served {number(agreement.with_served.rate)}"
                f" (n {agreement.with_served.n}); with the seller: shadow {number(agreement.shadow_with_final.rate)},"
                f" served {number(agreement.served_with_final.rate)} (n {agreement.shadow_with_final.n})"
            )
    return lines
