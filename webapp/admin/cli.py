"""``flask admin …``: platform administration from the command line, audited as ``cli:<user>``."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp.admin import services

admin_cli = AppGroup("admin", help="Platform administration (every change is audited).")


def _run(action, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Call a service; a refusal becomes a clean error message and exit status 1."""
    try:
        return action(*args, **kwargs)
    except services.AdminError as exc:
        raise click.ClickException(exc.message) from exc


def _report(what: str, changes: list[str]) -> None:
    click.echo(f"{what}: " + (", ".join(changes) if changes else "nothing changed"))


@admin_cli.command("create-admin")
@click.option("--email", required=True, help="The admin's e-mail (their log-in).")
@click.option("--name", required=True, help="The admin's name.")
@click.option("--password", help="For scripts; prompted (hidden, twice) when omitted.")
def create_admin_command(email: str, name: str, password: str | None) -> None:
    """Create a platform admin, who signs in at /admin/login."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    admin = _run(services.create_admin, email, name, password, services.Actor.cli())
    click.echo(f"Created platform admin {admin.email} ({admin.id}).")


@admin_cli.command("set-plan-limit")
@click.argument("plan")
@click.argument("field")
@click.argument("value")
def set_plan_limit_command(plan: str, field: str, value: str) -> None:
    """Set one limit of a plan (a whole number, or 'unlimited' where allowed)."""
    changed = _run(services.update_plan, services.Actor.cli(), plan, {field: value})
    if changed:
        before, after = changed[field]
        click.echo(f"Plan {plan}: {field} {before} -> {after}")
    else:
        click.echo(f"Plan {plan}: nothing changed")


@admin_cli.command("set-org-plan")
@click.argument("org")
@click.argument("plan")
def set_org_plan_command(org: str, plan: str) -> None:
    """Move an organization (id or slug) to another plan."""
    _report(org, _run(services.update_organization, services.Actor.cli(), org, plan_id=plan))


@admin_cli.command("set-org-override")
@click.argument("org")
@click.argument("field")
@click.argument("value")
def set_org_override_command(org: str, field: str, value: str) -> None:
    """Override one limit for an organization; VALUE 'inherit' returns it to the plan's."""
    changes = _run(services.set_organization_override, services.Actor.cli(), org, field, value)
    _report(org, changes)


@admin_cli.command("suspend")
@click.argument("org")
def suspend_command(org: str) -> None:
    """Suspend an organization: nobody in it can log in, open sessions end."""
    _report(org, _run(services.update_organization, services.Actor.cli(), org, status="suspended"))


@admin_cli.command("reactivate")
@click.argument("org")
def reactivate_command(org: str) -> None:
    """Reactivate a suspended organization."""
    _report(org, _run(services.update_organization, services.Actor.cli(), org, status="active"))


@admin_cli.command("top")
@click.option("--minutes", default=60, show_default=True, help="The period, up to 1440.")
@click.option("--count", default=10, show_default=True, help="Organizations per figure.")
def top_command(minutes: int, count: int) -> None:
    """The busiest organizations of the last hour by each figure (the /admin/load table)."""
    if not 1 <= minutes <= 1440 or count < 1:
        raise click.ClickException("--minutes must be 1 to 1440 and --count at least 1.")
    from webapp import load

    table = services.load_top(minutes, count)
    if table.unavailable:
        raise click.ClickException("The load counters cannot be read: Redis does not answer.")
    click.echo(f"Last {minutes} minutes: {table.active} organization(s) active.")
    for name, label in load.FIGURES.values():
        click.echo(f"\n{label}")
        rows = table.top[name]
        if not rows:
            click.echo("  (none)")
        for rank, row in enumerate(rows, 1):
            value = row.totals[name]
            shown = f"{value:,.1f}" if name == "processing_seconds" else f"{value:,.0f}"
            click.echo(f"  {rank:>2}. {shown:>12}  {row.name}  [{row.plan_id}]  {row.org_id}")
