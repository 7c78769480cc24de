"""``rackplan calibrate``: fit an engine profile to measured runs and write it as TOML."""

from __future__ import annotations

from pathlib import Path

import click

from planner.calibration.calibrate import calibrate_file, calibration_document
from planner.calibration.measurements import INFERENCEX_WARMUP_FROM
from planner.calibration.profile_file import profile_toml
from planner.cli.options import emit, pass_catalogue
from planner.cli.progress import progress_options
from planner.cli.types import NAME, output_option
from planner.errors import InputError
from planner.files import write_text
from planner.report.tables import FORMATS, Column, format_rows, to_json
from planner.serving import resolve

MEASURES = (("tpot", "TPOT"), ("ttft", "TTFT"), ("tok_per_gpu", "tok/s/GPU"))


def format_calibration(doc: dict, fmt: str, out_path: str) -> str:
    """Errors before and after, the fitted knobs, and the rows not used."""
    if fmt == "json":
        return to_json({**doc, "written": out_path})
    rows = []
    for key, label in MEASURES:
        before, after = doc["before"][key], doc["after"][key]
        if before["n"]:
            rows.append({"measure": label, "n": before["n"], "mape_before": before["mape_pct"],
                         "mape_after": after["mape_pct"], "median_before": before["median_pct"],
                         "median_after": after["median_pct"], "within_before": before["within_20_pct"],
                         "within_after": after["within_20_pct"]})
    cols = [Column("measure", "measure"), Column("n", "n"), Column("MAPE % before", "mape_before", ".1f"),
            Column("MAPE % after", "mape_after", ".1f"), Column("median % before", "median_before", ".1f"),
            Column("median % after", "median_after", ".1f"), Column("within 20 % before", "within_before", ".0f"),
            Column("within 20 % after", "within_after", ".0f")]
    title = (f"calibrated '{doc['profile']}' from '{doc['base']}' on {doc['rows_used']} rows "
             f"({', '.join(doc['systems'])}; engines {', '.join(doc['engines'])})")
    out = [format_rows(rows, cols, fmt, title)]
    ident = doc.get("identifiability", {})
    knobs = [{"knob": k, "before": v["before"], "after": v["after"], **ident.get(k, {})}
             for k, v in doc["knobs"].items()]
    out.append(format_rows(knobs, [Column("knob", "knob"), Column("before", "before", ".4g"),
                                   Column("after", "after", ".4g"), Column("identifiability", "verdict"),
                                   Column("from data", "data_share", ".0%"), Column("± 1σ (log)", "std", ".2f"),
                                   Column("most collinear with", "partner"),
                                   Column("correlation", "correlation", "+.2f")], fmt))
    out.append("identifiability: 'identified' = the rows fix the knob (>= 90 % of its information from data, "
               "within ±25 %); 'weak'; 'held by prior' = the rows cannot tell it apart (it stays near its start); "
               "'at bound' = the data pushed it to a physical limit (a finding, not a fit)")
    if doc["tpot_split"]:
        out.append(format_rows(doc["tpot_split"], [
            Column("TPOT split: group", "label"), Column("configurations", "configurations"),
            Column("decode step, fitted / measured", "decode_ratio", ".2f"),
            Column("prompt token, fitted / measured", "prompt_ratio", ".2f"),
            Column("prompt token, measured GPU us", "measured_gpu_us", ".1f"),
            Column("prompt token, fitted GPU us", "predicted_gpu_us", ".1f")], fmt))
        out.append("TPOT split: runs of one configuration at several output lengths, TPOT against the prompt tokens "
                   "each step carries; the line's intercept is the decode step, its slope what a prompt token adds "
                   "(planner.calibration.decompose). A ratio away from 1 is what the fitted knobs could not place.")
    skipped = "; ".join(f"{why}: {n}" for why, n in sorted(doc["skipped"].items())) or "none"
    out.append(f"rows not used: {skipped}")
    if doc["cold_ttfts"]:
        out.append(f"TTFTs not used: {doc['cold_ttfts']} measured before their benchmark client warmed the server "
                   f"up (InferenceX runs before {INFERENCEX_WARMUP_FROM}: the first wave's cold start; their TPOT is "
                   "used)")
    out.append(f"wrote {out_path} (use it with --profile {out_path})")
    return "\n\n".join(out)


@click.command("calibrate")
@click.argument("measurements", type=click.Path(dir_okay=False))
@output_option("--output", "out_path", required=True,
               help="Profile TOML to write (the command's output; every command accepts it with --profile). "
                    "The report goes to stdout.")
@click.option("--system", type=NAME, default=None, help="Fit only the rows of this system.")
@click.option("--gpu", type=NAME, default=None, help="Fit only the rows of this GPU.")
@click.option("--engine", "engine_name", type=NAME, default=None,
              help="Profile to start from (default, trtllm, vllm, sglang); rows naming another engine are left out.")
@click.option("--name", type=NAME, default=None, help="Name of the written profile (default: the output file's stem).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="Report format: text table, markdown, CSV or JSON (JSON prints nothing else).")
@progress_options("calibrate: fit iteration")
@pass_catalogue
def calibrate(measurements, out_path, system, gpu, engine_name, name, fmt, progress, catalogue_dirs):
    """Fit an engine profile's efficiency factors to MEASUREMENTS.csv (robust least squares).

    Reads the silicon CSV format (calibration/silicon_calibration.csv) or a simple CSV with
    columns model, system or gpu, [engine], tp, [pp], [ep], [dp], batch, [quant], [kv_quant], isl,
    osl, and at least one of tpot_ms, ttft_ms, tok_per_gpu, and [campaign] (runs measured together: a campaign
    most of whose runs beat a physical floor is counted out whole) and [arrivals] (steady, or burst: the run
    sent its batch at once). Prints the error before and after.

    Example: rackplan calibrate runs.csv --engine vllm --gpu h100 --output my-vllm.toml
    """
    if not Path(measurements).is_file():
        raise InputError(f"{measurements}: no such measurements file")
    cal = calibrate_file(measurements, resolve.catalogue(catalogue_dirs), system=system, gpu=gpu,
                         engine_name=engine_name, name=name or Path(out_path).stem,
                         progress=lambda i, of, cost: progress(i, of))
    progress.clear()
    write_text(out_path, profile_toml(cal.profile), "profile")
    emit(format_calibration(calibration_document(cal), fmt, out_path), None)


def register(group: click.Group) -> None:
    """Attach ``calibrate`` to ``group``."""
    group.add_command(calibrate)
