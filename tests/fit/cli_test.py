#!/usr/bin/env python3
"""`vlmscale fit` and `vlmscale frontier` as a user runs them: good input gives a report and a
JSON with the stable keys; bad input gives exit code 2 and a message naming file, line, column.
Run with VLMSCALE_BIN pointing at build/vlmscale (ctest sets it)."""
import json
import os
import subprocess
import sys
import tempfile

BIN = os.environ["VLMSCALE_BIN"]
HERE = os.path.dirname(os.path.abspath(__file__))
PAPER = os.path.join(HERE, "..", "data", "vlm_2411.03312_reasoning.csv")
PAPER_COLS = ["--n-col", "N_llm_params_billion", "--t-col", "T_visual_tokens", "--y-col", "Y_error"]
failures = []


def run(args):
    p = subprocess.run([BIN] + args, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def expect(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name)
    if not cond:
        failures.append(name)
        if detail:
            print(detail)


def expect_error(name, args, needle, code=2):
    rc, out, err = run(args)
    expect(name, rc == code and needle in err and err.startswith("vlmscale "),
           "  exit %d, stderr: %s" % (rc, err.strip()))


def write(tmp, name, text):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    return path


GOOD_ROWS = "".join("%g,%g,%g\n" % (n, t, 0.2 + 2 * n ** -0.3 * t ** -0.2)
                    for n in (0.5, 1, 2, 4) for t in (1, 16, 256))

with tempfile.TemporaryDirectory() as tmp:
    fit_json = os.path.join(tmp, "fit.json")
    rc, out, err = run(["fit", "--csv", PAPER] + PAPER_COLS + ["--bootstrap", "50", "--holdout-largest",
                                                              "1", "--json", fit_json])
    expect("paper fit exits 0", rc == 0, err)
    expect("paper fit report says E is at its bound", "AT BOUND" in out, out)
    doc = json.load(open(fit_json))
    keys = ["model", "loss", "space", "n_points", "params", "objective", "sse", "r2", "rmse",
            "at_bound", "stderr", "ci95", "extrapolation", "warnings", "points"]
    expect("fit JSON has the stable keys", all(k in doc for k in keys), str(sorted(doc)))
    expect("fit JSON params", sorted(doc["params"]) == ["A", "E", "alpha", "beta"], str(doc["params"]))
    expect("fit JSON at_bound names E", doc["at_bound"] == ["E"], str(doc["at_bound"]))
    expect("fit JSON sse beats the paper's grid search", doc["sse"] < 3.96e-4, str(doc["sse"]))
    expect("fit JSON ci95 brackets alpha",
           doc["ci95"]["alpha"][0] < doc["params"]["alpha"] < doc["ci95"]["alpha"][1], str(doc["ci95"]))
    expect("fit JSON extrapolation has the 7B points",
           len(doc["extrapolation"]) == 7 and all(e["n"] == 7 for e in doc["extrapolation"]))
    expect("fit JSON stores the evaluated points", len(doc["points"]) == 28)

    man = doc.get("manifest", {})
    expect("fit JSON manifest records the source, its hash and the fitter options",
           man.get("source_kind") == "csv" and len(man.get("source_hash") or "") == 16
           and man.get("fitter", {}).get("bootstrap") == 50
           and man.get("fitter", {}).get("holdout_largest") == 1
           and man.get("csv_columns", {}).get("y") == "Y_error", json.dumps(man)[:400])
    items = {it["item"]: it for it in man.get("checklist", [])}
    expect("the checklist is filled in from the manifest",
           items.get("uncertainty", {}).get("status") == "ok"
           and items.get("extrapolation check", {}).get("status") == "ok"
           and man.get("source_hash", "?") in items.get("data", {}).get("answer", ""),
           json.dumps(items)[:600])
    rc, out, err = run(["fit", "--csv", PAPER] + PAPER_COLS)
    expect("the text report ends with the checklist, missing items flagged",
           "How this fit was made" in out and "[MISSING] uncertainty" in out, out[-800:])
    rc, out, err = run(["fit", "--check", fit_json])
    expect("--check reproduces the paper fit from its CSV", rc == 0 and "reproduces" in out, err)
    edited = write(tmp, "edited.csv", open(PAPER).read().replace("0.6145", "0.6245", 1))
    rc, out, err = run(["fit", "--check", fit_json, edited])
    expect("--check on a changed CSV exits 1 naming the hash and the numbers",
           rc == 1 and "the CSV file changed" in err and "params.alpha" in err, err)

    front_json = os.path.join(tmp, "front.json")
    rc, out, err = run(["frontier", fit_json, "--text-tokens", "50", "--json", front_json])
    expect("frontier exits 0", rc == 0, err)
    fr = json.load(open(front_json))
    a, b = doc["params"]["alpha"], doc["params"]["beta"]
    closed = b * 50 / (a - b)
    expect("frontier closed form is beta*Q/(alpha-beta)", abs(fr["closed_form_t"] - closed) < 1e-9 * closed)
    expect("frontier T* is small and matches the closed form",
           all(abs(p["continuous"]["t"] - closed) < 1e-4 * closed for p in fr["frontier"]),
           json.dumps(fr["frontier"][:2]))
    bp = doc.get("bootstrap_params") or {}
    expect("fit JSON stores the 50 resamples' parameters",
           bp.get("names") == ["A", "alpha", "beta", "E"] and len(bp.get("values", [])) == 50
           and len(doc["bootstrap_params"]["values"][0]) == 4, json.dumps(bp)[:300])
    expect("frontier of a bootstrapped fit prints its bands",
           "bootstrap 95% bands (50 resamples" in out and "T* band" in out, out)
    expect("frontier JSON has the bands' level and resamples",
           (fr.get("bands") or {}).get("resamples") == 50 and fr["bands"]["level"] == 0.95, json.dumps(fr.get("bands")))
    lo, hi = fr["bands"]["closed_form_t"]
    expect("the closed-form T* band brackets T*", lo < fr["closed_form_t"] < hi, str((lo, hi)))
    expect("every budget has a band around its T*, N* and Y",
           all(c["ci95"][k][0] <= c[k] <= c["ci95"][k][1] for c in (p["continuous"] for p in fr["frontier"])
               for k in ("n", "t", "predicted")), json.dumps(fr["frontier"][0]))
    rc, out, err = run(["frontier", fit_json, "--text-tokens", "0", "--json", front_json])
    fr = json.load(open(front_json))
    expect("frontier at Q=0 picks the smallest T", all(p["continuous"]["t"] == 1 for p in fr["frontier"]))

    # --model auto: every form fit and ranked; the winner is the fit; --check and frontier work.
    auto_json = os.path.join(tmp, "auto.json")
    rc, out, err = run(["fit", "--csv", PAPER] + PAPER_COLS + ["--model", "auto", "--text-tokens", "50",
                                                              "--json", auto_json])
    expect("--model auto exits 0 with the selection table and a winner",
           rc == 0 and "Law selection" in out and "winner: " in out, out[:1500] + err)
    adoc = json.load(open(auto_json))
    sel = adoc.get("model_selection", {})
    expect("the JSON records every form and the ranking",
           [f["model"] for f in sel.get("forms", [])] == ["multiplicative", "additive", "compute", "broken"]
           and sorted(f["aic_rank"] for f in sel["forms"]) == [1, 2, 3, 4]
           and sel.get("winner") == adoc["model"], json.dumps(sel)[:800])
    win = [f for f in sel["forms"] if f["model"] == adoc["model"]][0]
    expect("the fit is the winner's, with its parameter names",
           sorted(adoc["params"]) == sorted(win["params"]) and win["delta_aic"] == 0, json.dumps(win))
    expect("the manifest records model auto and Q",
           adoc["manifest"]["fitter"]["model"] == "auto" and adoc["manifest"]["fitter"]["text_tokens"] == 50)
    rc, out, err = run(["fit", "--check", auto_json])
    expect("--check reproduces an auto fit", rc == 0 and "reproduces" in out, err)
    rc, out, err = run(["frontier", auto_json, "--text-tokens", "50"])
    expect("frontier reads the winner's law", rc == 0 and "(" + adoc["model"] + " law)" in out, out + err)
    ocr = os.path.join(HERE, "..", "data", "vlm_2411.03312_ocr.csv")
    rc, out, err = run(["fit", "--csv", ocr] + PAPER_COLS + ["--model", "auto", "--text-tokens", "50", "--brief"])
    verdict = [l for l in out.splitlines() if l.startswith("winner: ")]
    expect("on the paper's OCR points the report says which form wins", rc == 0 and len(verdict) == 1,
           out + err)
    if verdict:
        print("     OCR: " + verdict[0])
    comp_json = os.path.join(tmp, "compute.json")
    rc, out, err = run(["fit", "--csv", PAPER] + PAPER_COLS + ["--model", "compute", "--text-tokens", "50",
                                                              "--json", comp_json])
    cdoc = json.load(open(comp_json)) if rc == 0 else {}
    expect("--model compute fits gamma and records Q", rc == 0 and sorted(cdoc["params"]) == ["A", "E", "gamma"]
           and cdoc["text_tokens"] == 50, out + err)

    # Bad inputs: exit 2 with a message that says where.
    nan = write(tmp, "nan.csv", "N,T,Y\n" + GOOD_ROWS + "8,16,nan\n")
    expect_error("NaN value names file, line and column", ["fit", "--csv", nan], nan + ":14: column 'Y'")
    inf = write(tmp, "inf.csv", "N,T,Y\n1,inf,0.5\n" + GOOD_ROWS)
    expect_error("infinite value", ["fit", "--csv", inf], inf + ":2: column 'T'")
    zero_n = write(tmp, "zero_n.csv", "N,T,Y\n" + GOOD_ROWS + "0,16,0.5\n")
    expect_error("N <= 0 names the line", ["fit", "--csv", zero_n], zero_n + ":14: N must be > 0")
    neg_t = write(tmp, "neg_t.csv", "N,T,Y\n-1e9,-4,0.5\n" + GOOD_ROWS)
    expect_error("N or T <= 0", ["fit", "--csv", neg_t], "must be > 0")
    neg_y = write(tmp, "neg_y.csv", "N,T,Y\n" + GOOD_ROWS + "8,16,-0.1\n")
    expect_error("Y <= 0 in log space", ["fit", "--csv", neg_y, "--loss", "huber", "--space", "log"],
                 neg_y + ":14: Y must be > 0 for a log-space fit")
    few = write(tmp, "few.csv", "N,T,Y\n1,1,0.5\n2,4,0.4\n4,16,0.3\n")
    expect_error("fewer points than parameters", ["fit", "--csv", few], "fewer points than parameters")
    flat = write(tmp, "flat.csv", "N,T,Y\n" + "".join("%d,%d,0.5\n" % (n, t) for n in (1, 2, 4) for t in (1, 4)))
    expect_error("constant Y", ["fit", "--csv", flat], "Y is constant")
    good = write(tmp, "good.csv", "N,T,Y\n" + GOOD_ROWS)
    expect_error("missing column lists the columns", ["fit", "--csv", good, "--y-col", "err"],
                 "no column 'err'")
    empty = write(tmp, "empty.csv", "N,T,Y\n")
    expect_error("empty file", ["fit", "--csv", empty], "no data rows")
    ragged = write(tmp, "ragged.csv", "N,T,Y\n1,2\n")
    expect_error("ragged row", ["fit", "--csv", ragged], ragged + ":2: 2 fields but the header has 3")
    expect_error("missing file", ["fit", "--csv", os.path.join(tmp, "nope.csv")], "cannot open")
    expect_error("missing results file", ["fit", os.path.join(tmp, "nope.h5")], "nope.h5")
    expect_error("unknown model", ["fit", "--csv", good, "--model", "chinchilla"], "unknown model")
    expect_error("the compute law without Q", ["fit", "--csv", good, "--model", "compute"], "--text-tokens Q")
    expect_error("a negative Q", ["fit", "--csv", good, "--model", "compute", "--text-tokens", "-1"],
                 "text_tokens must be >= 0")
    expect_error("bad bound", ["fit", "--csv", good, "--bound", "gamma=0:1"], "unknown parameter 'gamma'")
    expect_error("no input", ["fit"], "give either a results file or --csv")
    expect_error("frontier needs Q", ["frontier", fit_json], "--text-tokens")
    expect_error("frontier on a non-JSON file", ["frontier", good, "--text-tokens", "5"], "not valid JSON")
    rc, out, err = run(["fit", "--csv", good, "--json", os.path.join(tmp, "g.json")])
    expect("a clean synthetic fit exits 0", rc == 0, err)
    expect("a fit without --bootstrap stores no resamples",
           json.load(open(os.path.join(tmp, "g.json")))["bootstrap_params"] is None)
    rc, out, err = run(["frontier", os.path.join(tmp, "g.json"), "--text-tokens", "50", "--json",
                        front_json])
    fr = json.load(open(front_json))
    expect("frontier of a fit without bootstrap says there are no bands",
           rc == 0 and "bands: none" in out and "--bootstrap" in out and fr["bands"] is None
           and all("ci95" not in p["continuous"] for p in fr["frontier"]), out + err)

if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("PASS")
