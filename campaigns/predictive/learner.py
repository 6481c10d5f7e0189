"""The learning itself, on numpy arrays (no database here).

Two kinds of model, picked by ROC AUC on the newest quarter of the labelled leads (held out):

- A logistic regression over one-hot *slots*: every categorical feature's frequent values and
  every numeric feature's deciles (plus "missing" and "rare") get a weight. The score on the
  logit scale is `intercept + one weight per feature`, so a lead's reasons (each feature's
  weight minus that feature's average weight) sum with the base to its score exactly.
- Histogram gradient boosting, explained exactly by the path of each tree (`TreeModel`).
  Served only when it beats the regression by `HGB_MARGIN`: the regression scores faster.

Every candidate's held-out AUC is kept (`candidates`), for the page.
"""

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from .dataset import Column, Table

BINS = 10
TEST_SHARE = 0.25
LEAK_AUC = 0.90  # a feature that alone ranks held-out leads this well gives the answer away
C_GRID = (0.1, 1.0)
HGB_MAX_ROWS = 200_000  # boosting learns from a sample of a large training set
# Boosting is served only when it ranks the held-out leads better by this much: the additive
# model scores a million leads several times faster and its reasons are per-value weights.
HGB_MARGIN = 0.005


@dataclass
class FeatureCode:
    """How one feature becomes one slot per lead."""

    name: str
    kind: str
    labels: list[str]  # slot -> text shown as the reason's value
    slot_of_code: np.ndarray | None = None  # categorical: code -> slot
    edges: np.ndarray | None = None  # numeric: decile edges
    levels: list[str] = field(default_factory=list)  # categorical: the dataset's code -> text

    def slots(self, column: Column) -> np.ndarray:
        if self.kind == "categorical":
            codes = np.clip(column.values, 0, len(self.slot_of_code) - 1)
            return self.slot_of_code[codes]
        values = column.values
        slots = np.searchsorted(self.edges, values, side="right").astype(np.int32) + 1
        slots[np.isnan(values)] = 0
        return slots

    @property
    def size(self) -> int:
        return len(self.labels)


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def feature_code(column: Column, train_rows: np.ndarray) -> FeatureCode:
    values = column.values[train_rows]
    n = len(values)
    if column.kind == "categorical":
        counts = np.bincount(values, minlength=len(column.levels))
        floor = max(10, int(0.0005 * n))
        slot_of_code = np.ones(len(column.levels), dtype=np.int32)  # rare -> slot 1
        slot_of_code[0] = 0
        labels = ["(missing)", "(rare)"]
        for code in np.argsort(-counts, kind="stable"):
            if code == 0 or counts[code] < floor:
                continue
            slot_of_code[code] = len(labels)
            labels.append(column.levels[code])
        return FeatureCode(
            column.name, "categorical", labels, slot_of_code=slot_of_code, levels=column.levels
        )
    present = values[~np.isnan(values)]
    if len(present):
        edges = np.unique(np.quantile(present, np.linspace(0, 1, BINS + 1)[1:-1]))
    else:
        edges = np.array([], dtype=np.float64)
    labels = ["(missing)"]
    if len(edges) == 0:
        labels.append("any")
    else:
        labels.append(f"< {_fmt(edges[0])}")
        labels += [f"{_fmt(a)} to < {_fmt(b)}" for a, b in itertools.pairwise(edges)]
        labels.append(f"≥ {_fmt(edges[-1])}")
    return FeatureCode(column.name, "numeric", labels, edges=edges)


def design(codes: list[FeatureCode], columns: dict[str, Column], rows=None):
    """The one-hot matrix (one 1 per feature and lead) and the slot of each feature per lead."""
    slots = []
    for code in codes:
        column = columns[code.name]
        s = code.slots(column)
        slots.append(s if rows is None else s[rows])
    slot_matrix = np.stack(slots, axis=1).astype(np.int32)
    offsets = np.cumsum([0] + [c.size for c in codes[:-1]]).astype(np.int32)
    n, width = slot_matrix.shape
    indices = (slot_matrix + offsets).ravel()
    matrix = sparse.csr_matrix(
        (np.ones(n * width, dtype=np.float64), indices, np.arange(0, n * width + 1, width)),
        shape=(n, int(sum(c.size for c in codes))),
    )
    return matrix, slot_matrix


@dataclass
class AdditiveModel:
    """Weights per (feature, slot), centred: `base + sum(contribution)` is the logit."""

    codes: list[FeatureCode]
    weights: list[np.ndarray]  # per feature: slot -> weight minus the feature's mean weight
    base: float
    C: float

    @property
    def features(self) -> list[str]:
        return [c.name for c in self.codes]

    def contributions(self, columns: dict[str, Column]) -> tuple[np.ndarray, np.ndarray]:
        """(contribution matrix leads x features, slot matrix)."""
        slots = np.stack([c.slots(columns[c.name]) for c in self.codes], axis=1)
        contrib = np.empty(slots.shape, dtype=np.float64)
        for j, w in enumerate(self.weights):
            contrib[:, j] = w[slots[:, j]]
        return contrib, slots

    def probability(self, columns: dict[str, Column]) -> np.ndarray:
        contrib, _ = self.contributions(columns)
        return sigmoid(self.base + contrib.sum(axis=1))

    def strongest(self, slots: np.ndarray, contrib=None) -> list[dict]:
        """Features by the spread of their contributions over the leads given."""
        out = []
        for j, code in enumerate(self.codes):
            spread = float(np.std(self.weights[j][slots[:, j]]))
            best = int(np.argmax(self.weights[j]))
            worst = int(np.argmin(self.weights[j]))
            out.append(
                {
                    "feature": code.name,
                    "weight": round(spread, 4),
                    "highest": code.labels[best],
                    "lowest": code.labels[worst],
                }
            )
        return sorted(out, key=lambda f: -f["weight"])


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def fit_additive(codes, columns, rows, y, C: float) -> AdditiveModel:
    matrix, slots = design(codes, columns, rows)
    lr = LogisticRegression(C=C, max_iter=2000, solver="lbfgs")
    lr.fit(matrix, y)
    coef = lr.coef_.ravel()
    offset = 0
    weights = []
    base = float(lr.intercept_[0])
    for j, code in enumerate(codes):
        w = coef[offset : offset + code.size].copy()
        offset += code.size
        mean = float(np.mean(w[slots[:, j]]))  # the average lead's weight for this feature
        weights.append(w - mean)
        base += mean
    return AdditiveModel(codes=codes, weights=weights, base=base, C=C)


@dataclass
class TreeModel:
    """Histogram gradient boosting, explained exactly: every tree's prediction is its root's
    value plus, along the lead's path, each child's value minus its parent's, credited to the
    parent's split feature (Saabas). Internal values are the count-weighted means of their
    leaves, so the differences telescope to the leaf: `base + sum(contribution)` is the
    model's own logit, whatever the path.

    Categorical features enter as their slots ranked by the training rate of the outcome (a
    number: a split is then a plain threshold, which the walk below reproduces)."""

    codes: list[FeatureCode]
    ranks: list[np.ndarray | None]  # categorical: slot -> rank
    trees: list[dict]
    base: float
    C: float = 0.0

    @property
    def features(self) -> list[str]:
        return [c.name for c in self.codes]

    def matrix(self, columns: dict[str, Column]) -> tuple[np.ndarray, np.ndarray]:
        slots = np.stack([c.slots(columns[c.name]) for c in self.codes], axis=1)
        x = np.empty(slots.shape, dtype=np.float64)
        for j, code in enumerate(self.codes):
            if code.kind == "categorical":
                x[:, j] = self.ranks[j][slots[:, j]]
            else:
                x[:, j] = columns[code.name].values
        return x, slots

    def contributions(self, columns: dict[str, Column]) -> tuple[np.ndarray, np.ndarray]:
        x, slots = self.matrix(columns)
        n = len(x)
        contrib = np.zeros(x.shape, dtype=np.float64)
        everyone = np.arange(n)
        for tree in self.trees:
            node = np.zeros(n, dtype=np.int64)
            active = everyone
            while len(active):
                here = node[active]
                leaf = tree["is_leaf"][here]
                active, here = active[~leaf], here[~leaf]
                if not len(active):
                    break
                feature = tree["feature"][here]
                value = x[active, feature]
                missing = np.isnan(value)
                with np.errstate(invalid="ignore"):
                    left = np.where(
                        missing, tree["missing_left"][here], value <= tree["threshold"][here]
                    )
                child = np.where(left, tree["left"][here], tree["right"][here])
                contrib[active, feature] += tree["value"][child] - tree["value"][here]
                node[active] = child
        return contrib, slots

    def probability(self, columns: dict[str, Column]) -> np.ndarray:
        contrib, _ = self.contributions(columns)
        return sigmoid(self.base + contrib.sum(axis=1))

    def strongest(self, slots: np.ndarray, contrib: np.ndarray | None = None) -> list[dict]:
        out = []
        for j, code in enumerate(self.codes):
            column = contrib[:, j] if contrib is not None else np.zeros(1)
            by_slot = np.bincount(slots[:, j], weights=column, minlength=code.size)
            counts = np.bincount(slots[:, j], minlength=code.size)
            mean = np.where(counts > 0, by_slot / np.maximum(counts, 1), np.nan)
            out.append(
                {
                    "feature": code.name,
                    "weight": round(float(np.std(column)), 4),
                    "highest": code.labels[int(np.nanargmax(mean))],
                    "lowest": code.labels[int(np.nanargmin(mean))],
                }
            )
        return sorted(out, key=lambda f: -f["weight"])


def _tree_arrays(nodes) -> dict:
    value = nodes["value"].astype(np.float64).copy()
    count = nodes["count"].astype(np.float64)
    is_leaf = nodes["is_leaf"].astype(bool)
    left = nodes["left"].astype(np.int64)
    right = nodes["right"].astype(np.int64)
    # Children have higher indices than their parent: fill internal values bottom-up.
    for i in range(len(nodes) - 1, -1, -1):
        if not is_leaf[i]:
            a, b = left[i], right[i]
            total = count[a] + count[b]
            value[i] = (value[a] * count[a] + value[b] * count[b]) / total if total else 0.0
    return {
        "value": value,
        "is_leaf": is_leaf,
        "left": left,
        "right": right,
        "feature": nodes["feature_idx"].astype(np.int64),
        "threshold": nodes["num_threshold"].astype(np.float64),
        "missing_left": nodes["missing_go_to_left"].astype(bool),
    }


def fit_trees(codes, columns, rows, y, *, seed: int = 0) -> TreeModel:
    ranks = []
    prior = float(y.mean())
    for code in codes:
        if code.kind != "categorical":
            ranks.append(None)
            continue
        slots = code.slots(columns[code.name])[rows]
        positives = np.bincount(slots, weights=y, minlength=code.size)
        counts = np.bincount(slots, minlength=code.size)
        rate = (positives + 10 * prior) / (counts + 10)
        rank = np.empty(code.size, dtype=np.float64)
        rank[np.argsort(rate, kind="stable")] = np.arange(code.size)
        ranks.append(rank)
    model = TreeModel(codes=codes, ranks=ranks, trees=[], base=0.0)
    if len(rows) > HGB_MAX_ROWS:
        pick = np.sort(np.random.default_rng(seed).choice(len(rows), HGB_MAX_ROWS, replace=False))
        rows, y = rows[pick], y[pick]
    x, _ = model.matrix({k: _rows(v, rows) for k, v in columns.items()})
    hgb = HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.08,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=True,
        random_state=seed,
    )
    hgb.fit(x, y)
    model.trees = [_tree_arrays(predictors[0].nodes) for predictors in hgb._predictors]
    model.base = float(np.ravel(hgb._baseline_prediction)[0]) + sum(
        float(t["value"][0]) for t in model.trees
    )
    return model


def expected_calibration_error(y, p, bins: int = 10) -> tuple[float, list[dict]]:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    curve = []
    for b in range(bins):
        mask = which == b
        count = int(mask.sum())
        if not count:
            continue
        predicted = float(p[mask].mean())
        observed = float(y[mask].mean())
        ece += count / len(y) * abs(predicted - observed)
        curve.append(
            {"predicted": round(predicted, 4), "observed": round(observed, 4), "leads": count}
        )
    return ece, curve


def lift_by_decile(y, p) -> list[dict]:
    order = np.argsort(-p, kind="stable")
    overall = float(y.mean()) or 1.0
    out = []
    for decile, chunk in enumerate(np.array_split(order, 10), start=1):
        if not len(chunk):
            continue
        rate = float(y[chunk].mean())
        out.append(
            {
                "decile": decile,
                "leads": len(chunk),
                "rate": round(rate, 4),
                "lift": round(rate / overall, 3),
            }
        )
    return out


def single_feature_auc(code: FeatureCode, column: Column, train, test, y_train, y_test) -> float:
    """How well a feature alone ranks the held-out leads: each slot's training rate, smoothed."""
    slots = code.slots(column)
    positives = np.bincount(slots[train], weights=y_train, minlength=code.size)
    counts = np.bincount(slots[train], minlength=code.size)
    prior = float(y_train.mean())
    rate = (positives + 10 * prior) / (counts + 10)
    score = rate[slots[test]]
    if len(np.unique(y_test)) < 2:
        return math.nan
    return float(roc_auc_score(y_test, score))


@dataclass
class Training:
    model: "AdditiveModel | TreeModel"
    auc: float
    ece: float
    calibration: list[dict]
    lift: list[dict]
    candidates: list[dict]
    flagged_leaks: list[dict]
    strongest: list[dict]
    train_size: int
    test_size: int
    algorithm: str = ""


def train(table: Table, *, excluded: set[str], hgb: bool = True) -> Training:
    """Time-ordered split (the newest quarter held out), pick the regularisation by held-out
    AUC, evaluate, flag leaks, then refit on every labelled lead."""
    labelled = np.flatnonzero(table.label >= 0)
    # `table` rows are in creation order already (created_at, id).
    cut = int(len(labelled) * (1 - TEST_SHARE))
    train_rows, test_rows = labelled[:cut], labelled[cut:]
    y = table.label.astype(np.float64)
    y_train, y_test = y[train_rows], y[test_rows]
    columns = {c.name: c for c in table.columns if not is_excluded(c.name, excluded)}
    codes = [feature_code(c, train_rows) for c in columns.values()]
    codes = [c for c in codes if c.size > 2]  # a feature with one value says nothing

    candidates = []
    best = None
    test_columns = {k: _rows(v, test_rows) for k, v in columns.items()}
    for C in C_GRID:
        model = fit_additive(codes, columns, train_rows, y_train, C)
        p = model.probability(test_columns)
        auc = float(roc_auc_score(y_test, p))
        candidates.append({"algorithm": f"logistic regression (C={C})", "auc": round(auc, 4)})
        if best is None or auc > best[0]:
            best = (auc, model, p)
    if hgb:
        model = fit_trees(codes, columns, train_rows, y_train)
        p = model.probability(test_columns)
        auc = float(roc_auc_score(y_test, p))
        candidates.append({"algorithm": "histogram gradient boosting", "auc": round(auc, 4)})
        if auc >= best[0] + HGB_MARGIN:
            best = (auc, model, p)
    auc, chosen, p_test = best
    ece, calibration = expected_calibration_error(y_test, p_test)
    lift = lift_by_decile(y_test, p_test)
    leaks = []
    for code in codes:
        single = single_feature_auc(
            code, columns[code.name], train_rows, test_rows, y_train, y_test
        )
        if not math.isnan(single) and max(single, 1 - single) >= LEAK_AUC:
            leaks.append({"feature": code.name, "auc": round(max(single, 1 - single), 4)})

    # Served: the chosen settings refitted on every labelled lead (the held-out quarter is the
    # newest: it matters most for what comes next). Deciles and frequent values from all.
    codes_all = [feature_code(columns[c.name], labelled) for c in codes]
    if isinstance(chosen, TreeModel):
        served = fit_trees(codes_all, columns, labelled, y[labelled])
    else:
        served = fit_additive(codes_all, columns, labelled, y[labelled], chosen.C)
    contrib, slots = served.contributions({k: _rows(v, labelled) for k, v in columns.items()})
    return Training(
        model=served,
        auc=auc,
        ece=ece,
        calibration=calibration,
        lift=lift,
        candidates=candidates,
        flagged_leaks=leaks,
        strongest=served.strongest(slots, contrib)[:12],
        train_size=len(train_rows),
        test_size=len(test_rows),
        algorithm=(
            "histogram gradient boosting"
            if isinstance(served, TreeModel)
            else f"logistic regression over feature slots (C={served.C})"
        ),
    )


def is_excluded(name: str, excluded: set[str]) -> bool:
    """A feature is excluded by its name or, for an imported column, by its header alone."""
    return name in excluded or name.removeprefix("attributes.") in excluded


def _rows(column: Column, rows) -> Column:
    return Column(column.name, column.kind, column.values[rows], column.levels)
