#!/usr/bin/env python3
"""Builds the fastText probe's data from real requests: data/probe/{train,dev,heldout}.jsonl.gz.

Reads ../shared/data/corpora (programming requests, math problems, knowledge questions as people wrote them; English
and Chinese; see corpora/SOURCES.md), MMLU's validation split from ../shared/data/mmlu, and the project's own
data/calibration.jsonl (data/probe/SOURCES.md lists them all with their licenses). Each line written is {"id", "text", "label", "source",
"lang"[, "form"]}.

How the sets are made (deterministic; no randomness but hashes of the texts):
- every source's rows become request texts as a user would send them: HTML problem statements become plain text,
  answer options are laid out in one of several common styles chosen by a hash of the text (so the layout cannot
  tell a math source from a qa one), and exact duplicates are dropped;
- the split is per source and by group (a LeetCode problem's English and Chinese statements are one group, any other
  row is its own text): 15% held out, 10% dev (for calibration and for choosing settings), 75% training. The held-out
  split is never trained on or tuned to: it is what `make bench` reports;
- training is balanced per category within each language: every source is capped, and each (category, language) is
  brought to the same size (sampling down, or repeating rows up to twice);
- a share of the training rows is also sent in the other shapes real requests take (beside, never instead of, the
  original row): a LeetCode statement under a Python/C++/Java function signature (the starter code LeetCode gives),
  a CoNaLa intent with its code snippet, an NL2Bash description with its command, a math problem with "show your
  work", and - labelled code - a math problem or a question that asks for a program or sits in a function's
  docstring; these teach the probe that a signature, a code block or an ask for code means code whatever the text
  around it talks about.

Run: /usr/bin/python3 scripts/probe/build_probe_corpus.py [--shared ../shared/data]
"""
import argparse
import csv
import glob
import gzip
import hashlib
import html
import json
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HELDOUT_PCT, DEV_PCT = 15, 10
SOURCE_CAP = 2400          # training rows per source at most (before balancing)
ZH_SOURCE_CAP = 2400
csv.field_size_limit(1 << 24)


def h(s, salt=""):
    return int(hashlib.sha256((salt + s).encode()).hexdigest()[:12], 16)


def norm(s):
    return re.sub(r"\s+", " ", s).strip().lower()


ZH_SOURCES = ("leetcode-zh", "gaokao-", "agieval-gaokao-")


def lang_of(text, source=""):
    """The corpus's language where the source has one (a Chinese exam question full of LaTeX is still Chinese); for
    the project's own prompts, Chinese when CJK characters make up a fair share of the words."""
    if source and source != "aio-calibration":
        return "zh" if source.startswith(ZH_SOURCES) else "en"
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
    words = len(re.findall(r"[A-Za-z]+", text))
    return "zh" if cjk >= 3 and cjk >= 0.3 * words else "en"


# ------------------------------------------------------------------------------------------------ text renderings
def html_to_text(s):
    s = re.sub(r"<img[^>]*>", "", s)
    s = re.sub(r"<sup>(.*?)</sup>", r"^\1", s)
    s = re.sub(r"<li>\s*", "- ", s)
    s = re.sub(r"</(p|li|ul|ol|pre|div|h\d)>", "\n", s)
    s = re.sub(r"<br\s*/?>", "\n", s)
    s = re.sub(r"<[^>]+>", "", s)
    s = html.unescape(s).replace("\u00a0", " ")
    s = re.sub(r"[ \t]+\n", "\n", s)
    s = re.sub(r"\n{3,}", "\n\n", s)
    return s.strip()


OPTION_STYLES = 4


def with_options(question, options, key):
    """The question with its options laid out in a style picked by a hash (the layout must not reveal the source)."""
    letters = "ABCDEFGH"
    opts = []
    for i, o in enumerate(options):
        o = str(o).strip()
        o = re.sub(r"^\(?[A-H][\).:：．]\s*", "", o)  # drop the source's own letter
        opts.append((letters[i], o))
    style = h(key, "opt") % OPTION_STYLES
    if style == 0:
        body = "\n".join(f"{l}. {o}" for l, o in opts)
        return f"{question}\n{body}\nAnswer:"
    if style == 1:
        return question + "\n" + " ".join(f"({l}) {o}" for l, o in opts)
    if style == 2:
        return question + "\n" + "\n".join(f"{l}) {o}" for l, o in opts)
    return question + "\nOptions: " + ", ".join(f"{l}) {o}" for l, o in opts)


# ----------------------------------------------------------------------------------------------------- readers
def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def corpora_rows(corpora):
    """Yields (source, label, text, group) for every request in the corpora."""
    c = lambda *p: os.path.join(corpora, *p)
    # code
    for split in ("train", "test"):
        for r in read_json(c("code", f"conala-{split}.json")):
            intent = r.get("intent") or r.get("rewritten_intent")
            if intent:
                yield "conala", "code", intent.strip(), None, {"snippet": r.get("snippet") or ""}
    for lang in ("en", "zh"):
        for r in read_jsonl(c("code", f"doocs_leetcode_problems_{lang}.jsonl")):
            text = html_to_text(r.get("description_html") or "")
            if len(text) < 20:
                continue
            group = os.path.dirname(r.get("path", "")) or text
            yield f"leetcode-{lang}", "code", text, "leetcode:" + group, {"title": r.get("title", "")}
    with open(c("code", "nl2bash_all.nl"), encoding="utf-8") as f_nl, \
            open(c("code", "nl2bash_all.cm"), encoding="utf-8") as f_cm:
        for nl, cm in zip(f_nl, f_cm):
            if nl.strip():
                yield "nl2bash", "code", nl.strip(), None, {"command": cm.strip()}
    # math
    for r in read_jsonl(c("math", "gsm8k_train.jsonl")):
        yield "gsm8k-train", "math", r["question"].strip(), None, {}
    for r in read_jsonl(c("math", "MATH_train.jsonl")):
        yield "math-train", "math", r["problem"].strip(), None, {}
    for split in ("dev", "test"):
        for r in read_jsonl(c("math", f"aqua_{split}.json")):
            yield "aqua", "math", with_options(r["question"].strip(), r["options"], r["question"]), None, {}
    for name, label in (("gaokao-mathqa", "math"), ("gaokao-mathcloze", "math"), ("sat-math", "math"),
                        ("math", "math"), ("gaokao-history", "qa"), ("gaokao-biology", "qa"),
                        ("gaokao-geography", "qa"), ("gaokao-physics", "qa"), ("gaokao-chemistry", "qa")):
        folder = "math" if label == "math" else "qa"
        for r in read_jsonl(c(folder, f"agieval_{name}.jsonl")):
            q = (r.get("question") or "").strip()
            if r.get("passage"):
                q = r["passage"].strip() + "\n" + q
            if r.get("options"):
                q = with_options(q, r["options"], q)
            yield f"agieval-{name}", label, q, None, {}
    for path in sorted(glob.glob(c("math", "gaokao_bench_*.json")) + glob.glob(c("qa", "gaokao_bench_*.json"))):
        label = "math" if os.sep + "math" + os.sep in path else "qa"
        subject = re.sub(r"gaokao_bench_2010-2022_|\.json", "", os.path.basename(path))
        for r in read_json(path)["example"]:
            q = (r.get("question") or "").strip()
            q = re.sub(r"^\d+\s*[.．、]\s*(（\s*\d+\s*分\s*\)|\(\s*\d+\s*分\s*\)|（\s*\d+\s*分\s*）)?\s*", "", q)
            if q:
                yield f"gaokao-{subject}", label, q, None, {}
    # qa
    for split in ("train", "dev", "test"):
        name = {"train": "train_rand_split", "dev": "dev_rand_split", "test": "test_rand_split_no_answers"}[split]
        for r in read_jsonl(c("qa", f"commonsenseqa_{name}.jsonl")):
            q = r["question"]
            yield "commonsenseqa", "qa", with_options(q["stem"], [ch["text"] for ch in q["choices"]], q["stem"]), \
                None, {}
    for split in ("dev", "test"):
        for r in read_json(c("qa", f"hotpotqa_{split}_questions.json")):
            yield "hotpotqa", "qa", r["question"].strip(), None, {}
    for name in ("nq_open_dev", "nq_open_efficientqa_dev", "nq_open_efficientqa_test"):
        for r in read_jsonl(c("qa", f"{name}.jsonl")):
            yield "natural-questions", "qa", r["question"].strip(), None, {}
    for name in ("trainmodel", "val", "devtest", "test"):
        for r in read_json(c("qa", f"webquestions_{name}.json")):
            yield "webquestions", "qa", r["qText"].strip(), None, {}
    with open(c("qa", "truthfulqa.csv"), encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            yield "truthfulqa", "qa", r["Question"].strip(), None, {}
    for path in sorted(glob.glob(c("qa", "mmlu_dev", "*.csv"))):
        with open(path, encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                yield "mmlu-dev", "qa", with_options(r["question"].strip(), [r[f"choice{i}"] for i in range(4)],
                                                     r["question"]), None, {}


def benchmark_rows(shared):
    """The real benchmark file beside the corpora: MMLU validation (English, MIT). C-Eval is left out on purpose: its
    data is licensed non-commercially, so it is not redistributed here; the tests and `make bench` use the shared
    copy as a check the probe never trained on."""
    for path in sorted(glob.glob(os.path.join(shared, "mmlu", "val", "*.csv"))):
        with open(path, encoding="utf-8", newline="") as f:
            for r in csv.reader(f):
                if len(r) >= 6:
                    yield "mmlu-val", "qa", with_options(r[0].strip(), r[1:5], r[0]), None, {}


def project_rows():
    for r in read_jsonl(os.path.join(ROOT, "data", "calibration.jsonl")):
        yield "aio-calibration", r["label"], r["text"], None, {}


# ------------------------------------------------------------------------------------------- other request forms
def snake(title):
    title = re.sub(r"^[\d.\s]+", "", title)
    words = re.findall(r"[A-Za-z0-9]+", title)
    return "_".join(w.lower() for w in words)[:40] or "solve"


def params_of(text):
    """Parameter names from a LeetCode example's input line ("Input: nums = [2,7], target = 9")."""
    m = re.search(r"(?:Input|输入)\s*[:：]\s*(.+)", text)
    if not m:
        return ["nums"]
    names = re.findall(r"([A-Za-z_]\w*)\s*=", m.group(1))
    return names[:4] or ["nums"]


def as_signature(text, extra, key):
    name = snake(extra.get("title", ""))
    params = params_of(text)
    camel = re.sub(r"_(\w)", lambda m: m.group(1).upper(), name)
    doc = "\n".join("    " + line if line else "" for line in text.splitlines())
    style = h(key, "sig") % 3
    if style == 0:
        return f'def {name}({", ".join(params)}):\n    """\n{doc}\n    """\n'
    if style == 1:
        args = ", ".join(f"vector<int>& {p}" for p in params)
        return f"{text}\n\nclass Solution {{\npublic:\n    int {camel}({args}) {{\n        \n    }}\n}};"
    args = ", ".join(f"int[] {p}" for p in params)
    return f"{text}\n\nclass Solution {{\n    public int {camel}({args}) {{\n\n    }}\n}}"


ASK_EN = ["Implement a program that computes the answer to this problem:\n{q}",
          "Can you write code that answers the following?\n{q}",
          "Write a function returning the answer.\n\n{q}",
          "{q}\nSolve it by writing a Python script, not by hand."]
ASK_ZH = ["请编写程序求解下面的问题：\n{q}", "{q}\n用代码实现，写一个函数返回答案。"]


def other_forms(source, label, text, extra, key):
    """Extra training rows in the shapes requests take besides the corpus's own (see the module docstring), as
    (text, form, label)."""
    pick = h(key, "form") % 100
    if source.startswith("leetcode") and pick < 35:
        yield as_signature(text, extra, key), "signature", label
    if source == "conala" and extra.get("snippet") and pick < 30:
        asks = ["{i}\n```python\n{s}\n```", "{i}. I tried `{s}` but it does not work.", "{s}\n\n{i}?"]
        yield asks[pick % 3].format(i=text.rstrip("?"), s=extra["snippet"]), "with-code", label
    if source == "nl2bash" and extra.get("command") and pick < 20:
        asks = ["What does `{c}` do?", "{n}\n$ {c}\nThis prints nothing, why?", "Explain this command:\n{c}"]
        yield asks[pick % 3].format(n=text, c=extra["command"]), "with-command", label
    if label == "math" and pick < 8:
        yield text + ("\n请写出解题过程。" if lang_of(text) == "zh" else "\nShow your work."), "show-work", label
    # A math problem or a question that asks for a program, or sits in a function's docstring, is a code request:
    # what the user asks for decides, not what the text talks about.
    if label in ("math", "qa") and 90 <= pick < 96:
        asks = ASK_ZH if lang_of(text) == "zh" else ASK_EN
        yield asks[h(key, "ask") % len(asks)].format(q=text), "asks-for-code", "code"
    if label in ("math", "qa") and pick >= 96:
        doc = "\n".join("    " + line if line else "" for line in text.replace('"' * 3, "'" * 3).splitlines())
        name = ["solve", "answer", "compute", "result"][h(key, "name") % 4]
        yield f'def {name}():\n    """\n{doc}\n    """\n', "in-docstring", "code"


# --------------------------------------------------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "probe"))
    a = ap.parse_args()
    corpora = os.path.join(a.shared, "corpora")
    if not os.path.isdir(corpora):
        sys.exit(f"no corpora at {corpora}: pass --shared DIR (the folder holding corpora/)")

    seen = set()
    rows = {"train": [], "dev": [], "heldout": []}
    counts = {}
    for gen in (corpora_rows(corpora), benchmark_rows(a.shared), project_rows()):
        for source, label, text, group, extra in gen:
            text = text.strip()
            key = norm(text)
            if not key or key in seen:
                continue
            seen.add(key)
            g = h(group or key, "split") % 100
            split = "heldout" if g < HELDOUT_PCT else "dev" if g < HELDOUT_PCT + DEV_PCT else "train"
            if source == "aio-calibration":
                split = "train"  # written here: never a test of what users send
            row = {"text": text, "label": label, "source": source, "lang": lang_of(text, source)}
            rows[split].append((row, extra))
            counts[(source, split)] = counts.get((source, split), 0) + 1

    # Balance the training rows: cap each source, then bring every (category, language) to the same size.
    by_source = {}
    for row, extra in rows["train"]:
        by_source.setdefault((row["source"], row["lang"]), []).append((row, extra))
    capped = []
    for (source, lang), items in sorted(by_source.items()):
        items.sort(key=lambda it: h(it[0]["text"], "cap"))
        capped += items[:ZH_SOURCE_CAP if lang == "zh" else SOURCE_CAP]
    cells = {}
    for row, extra in capped:
        cells.setdefault((row["label"], row["lang"]), []).append((row, extra))
    train = []
    for lang in ("en", "zh"):
        sizes = [len(cells.get((lab, lang), [])) for lab in ("code", "qa", "math")]
        # The middle cell's size: the largest is sampled down, the smallest repeated up to it (at most twice over).
        target = min(sorted(sizes)[1], 2 * min(sizes))
        for lab in ("code", "qa", "math"):
            items = sorted(cells.get((lab, lang), []), key=lambda it: h(it[0]["text"], "bal"))
            chosen = (items * 2)[:target]
            for row, extra in chosen:
                train.append(dict(row))
            for row, extra in items[:target]:
                for text, form, label in other_forms(row["source"], lab, row["text"], extra, row["text"]):
                    train.append({**row, "text": text, "form": form, "label": label})
    train.sort(key=lambda r: h(r["text"] + r.get("form", ""), "order"))

    os.makedirs(a.out, exist_ok=True)
    for split, items in (("train", train), ("dev", [r for r, _ in rows["dev"]]),
                         ("heldout", [r for r, _ in rows["heldout"]])):
        items = sorted(items, key=lambda r: (r["source"], h(r["text"], "order"))) if split != "train" else items
        path = os.path.join(a.out, f"{split}.jsonl.gz")
        # mtime=0: the same data gives the same bytes, so the file only changes in git when its content does.
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
            for i, r in enumerate(items):
                r = {"id": f"{split}-{i:05d}", **r}
                f.write((json.dumps(r, ensure_ascii=False) + "\n").encode())
        summary = {}
        for r in items:
            summary[(r["label"], r["lang"])] = summary.get((r["label"], r["lang"]), 0) + 1
        print(f"{split:8s} {len(items):6d} rows  " +
              "  ".join(f"{lab}/{lang} {n}" for (lab, lang), n in sorted(summary.items())))
    print("per source (train pool before balancing / dev / heldout):")
    for source in sorted({s for s, _ in counts}):
        print(f"  {source:32s} {counts.get((source, 'train'), 0):6d} {counts.get((source, 'dev'), 0):6d} "
              f"{counts.get((source, 'heldout'), 0):6d}")


if __name__ == "__main__":
    main()
