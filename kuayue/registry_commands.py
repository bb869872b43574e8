"""The `kuayue registry …` commands: import, export, search, show, match, declines (installed into `kuayue.cli`)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from domain.matching import Filters
    from kuayue.cli import Subcommands


def add_registry_command(subcommands: Subcommands) -> None:
    from kuayue.cli import add_command_group

    group = add_command_group(subcommands, "registry", "achievement and demand registries: import, export, search, match")

    parser = group.add_parser("import", help="import a CSV, XLSX or JSON file; prints a row-by-row report")
    parser.add_argument("file", type=Path)
    parser.add_argument("--kind", choices=("achievements", "demands"), help="default: from the id column's header")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=_import)

    parser = group.add_parser("export", help="write a registry to a CSV, XLSX or JSON file (by its extension)")
    parser.add_argument("file", type=Path)
    parser.add_argument("--kind", choices=("achievements", "demands"), required=True)
    parser.set_defaults(handler=_export)

    parser = group.add_parser("search", help="achievements for free text (with filters)")
    parser.add_argument("query")
    _add_filters(parser)
    parser.set_defaults(handler=_search)

    parser = group.add_parser("show", help="one achievement (登记号) or demand (需求编号) as JSON")
    parser.add_argument("id")
    parser.set_defaults(handler=_show)

    parser = group.add_parser("match", help="achievements for a demand, or demands for an achievement, with reasons")
    side = parser.add_mutually_exclusive_group(required=True)
    side.add_argument("--demand", metavar="ID", help="rank achievements for this demand")
    side.add_argument("--achievement", metavar="ID", help="rank demands for this achievement")
    _add_filters(parser)
    parser.set_defaults(handler=_match)

    parser = group.add_parser("declines", help="why a centre's (or one achievement's) achievements are passed over")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--centre", metavar="CENTRE_ID")
    which.add_argument("--achievement", metavar="ID")
    parser.set_defaults(handler=_declines)


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--industry", help="industry code prefix, e.g. C35 or C3562")
    parser.add_argument("--region", help="region code; 360000 means all of Jiangxi, 360800 Ji'an")
    parser.add_argument("--min-trl", type=int, help="achievements: TRL at least; demands: minimum TRL at most")
    parser.add_argument("--mode", help="transfer mode: 转让, 许可, 作价入股, 合作开发, 技术服务")
    parser.add_argument("--max-price-wan", type=float, help="achievements: asking price at most (万元, negotiable passes)")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print JSON")


def _filters(args: argparse.Namespace) -> Filters:
    from domain.matching import Filters

    price = None if args.max_price_wan is None else round(args.max_price_wan * 1_000_000)
    return Filters(industry=args.industry, region=args.region, min_trl=args.min_trl, mode=args.mode, max_price_fen=price)


def _factory() -> Any:
    from store.db import make_session_factory, migrate

    migrate()
    return make_session_factory()


def _run(args: argparse.Namespace, action: Any) -> int:
    """Runs a command; bad input and unknown ids print their Chinese message and exit 2 (no traceback)."""
    from pydantic import ValidationError

    from registry.matcher import NotFound

    try:
        result: int = action(args)
        return result
    except (ValueError, NotFound, FileNotFoundError) as err:
        if isinstance(err, ValidationError):
            message = "；".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        else:
            message = str(err)
        print(f"kuayue registry: {message}", file=sys.stderr)
        return 2


def _import(args: argparse.Namespace) -> int:
    def action(args: argparse.Namespace) -> int:
        from registry.importer import import_file
        from registry.tables import Kind

        # Logged in registry_imports like a web import, as the operating-system account that ran it.
        who = f"cli:{getpass.getuser()}"
        report = import_file(_factory(), args.file, Kind(args.kind) if args.kind else None, imported_by=who)
        if args.json:
            print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        else:
            for problem in report.problems:
                print(problem)
            for id_ in report.updated:
                print(f"已更新 {id_}")
            print(report.summary())
        return 1 if report.rejected_rows else 0

    return _run(args, action)


def _export(args: argparse.Namespace) -> int:
    def action(args: argparse.Namespace) -> int:
        from registry import records
        from registry.tables import Kind, write_records

        kind = Kind(args.kind)
        with _factory()() as session:
            loaded = records.load(session, kind)
        write_records(args.file, kind, loaded)
        print(f"wrote {len(loaded)} {kind.value} to {args.file}", file=sys.stderr)
        return 0

    return _run(args, action)


def _search(args: argparse.Namespace) -> int:
    def action(args: argparse.Namespace) -> int:
        from registry.matcher import Matcher

        shortlist = Matcher(_factory()).search(args.query, _filters(args), args.limit)
        _print_candidates(args, shortlist.index_version, [c.model_dump(mode="json") for c in shortlist.candidates])
        return 0

    return _run(args, action)


def _show(args: argparse.Namespace) -> int:
    def action(args: argparse.Namespace) -> int:
        from registry import records
        from registry.matcher import NotFound
        from registry.tables import Kind

        with _factory()() as session:
            record = records.get(session, Kind.ACHIEVEMENTS, args.id) or records.get(session, Kind.DEMANDS, args.id)
        if record is None:
            raise NotFound(f"登记号或需求编号「{args.id}」不存在")
        print(json.dumps(record.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return 0

    return _run(args, action)


def _match(args: argparse.Namespace) -> int:
    def action(args: argparse.Namespace) -> int:
        from registry.matcher import Matcher

        matcher = Matcher(_factory())
        if args.demand:
            shortlist = matcher.for_demand(args.demand, _filters(args), args.limit)
            rows = [c.model_dump(mode="json") for c in shortlist.candidates]
            _print_candidates(args, shortlist.index_version, rows)
        else:
            demands = matcher.for_achievement(args.achievement, _filters(args), args.limit)
            rows = [d.model_dump(mode="json") for d in demands.demands]
            _print_candidates(args, demands.index_version, rows)
        return 0

    return _run(args, action)


def _print_candidates(args: argparse.Namespace, version: str, rows: list[dict[str, Any]]) -> None:
    if args.json:
        print(json.dumps({"index_version": version, "candidates": rows}, ensure_ascii=False, indent=2))
        return
    print(f"索引版本 {version}，{len(rows)} 项")
    for rank, row in enumerate(rows, start=1):
        if "achievement" in row:
            ref = row["achievement"]
            print(f"{rank:>2}. {row['score']:6.2f}  {ref['achievement_id']}  {ref['title']}（{ref['institution']['name']}）")
        else:
            print(f"{rank:>2}. {row['score']:6.2f}  {row['demand_id']}  {row['title']}（{row['enterprise_name']}）")
        for reason in row["reasons"]:
            print(f"      · {reason}")


def _declines(args: argparse.Namespace) -> int:
    def action(args: argparse.Namespace) -> int:
        from registry.declines import decline_reasons, list_declines

        with _factory()() as session:
            counts = decline_reasons(session, centre_id=args.centre, achievement_id=args.achievement)
            declines = list_declines(session, centre_id=args.centre, achievement_id=args.achievement)
        if not counts:
            print("没有记录的拒绝")
        for row in counts:
            print(f"{row.count:>5}  {row.label}（{row.reason.value}）")
        if declines:
            print("最近的拒绝：")
        for d in declines:
            note = f"：{d.note}" if d.note else ""
            print(f"  {d.declined_at:%Y-%m-%d}  {d.achievement_id}  案件 {d.deal_id} #{d.seq}  {d.label}{note}")
        return 0

    return _run(args, action)


def add_demo_data_command(subcommands: Subcommands) -> None:
    parser = subcommands.add_parser(
        "demo-data",
        help="write (and/or load) the seeded demo registries: 3,500 achievements, 740 demands",
        description="The seeded demo corpus of registry/demo.py: Jiangxi's industries and 11 cities, in Chinese.",
    )
    parser.add_argument("--out", type=Path, help="write achievements and demands here (.json, or .csv/.xlsx by --format)")
    parser.add_argument("--format", choices=("json", "csv", "xlsx"), default="json")
    parser.add_argument("--load", action="store_true", help="load into the registries of KUAYUE_DATABASE_URL (idempotent)")
    parser.add_argument("--labels", type=Path, help="write the evaluation labels (graded relevance) to this file")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--achievements", type=int, default=3500)
    parser.add_argument("--demands", type=int, default=740)
    parser.set_defaults(handler=_demo_data)


def _demo_data(args: argparse.Namespace) -> int:
    def action(args: argparse.Namespace) -> int:
        from registry.demo import generate_corpus, load_demo
        from registry.evaluation import write_labels
        from registry.tables import Kind, write_records

        if not (args.out or args.load or args.labels):
            raise ValueError("请至少指定 --out 目录、--load 或 --labels 之一")
        corpus = generate_corpus(args.achievements, args.demands, args.seed)
        if args.out:
            for kind, batch in ((Kind.ACHIEVEMENTS, corpus.achievements), (Kind.DEMANDS, corpus.demands)):
                target = args.out / f"{kind.value}.{args.format}"
                write_records(target, kind, batch)
                print(f"wrote {len(batch)} {kind.value} to {target}")
        if args.labels:
            write_labels(args.labels, args.seed, args.achievements, args.demands, corpus.relevance)
            print(f"wrote labels of {len(corpus.relevance)} demands to {args.labels}")
        if args.load:
            report = load_demo(_factory(), corpus)
            print(f"演示登记库：新增 {report.inserted}，更新 {report.updated}，未变 {report.unchanged}")
        return 0

    return _run(args, action)
