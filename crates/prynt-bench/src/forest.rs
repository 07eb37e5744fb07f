//! A small random forest for two classes, for the FP-Stalker hybrid baseline of
//! `prynt-bench accuracy`: Breiman's random forest as scikit-learn's `RandomForestClassifier`
//! builds it with its defaults of 2017, which FP-Stalker's code used. Each tree is a CART tree
//! grown to purity (Gini impurity, at least two samples to split, one per leaf, no depth limit)
//! on a bootstrap sample of the training rows, choosing each split among √(features) features
//! drawn at random; a tree's answer is the share of positive training rows in the leaf reached,
//! and the forest's probability is the mean of its trees' answers (scikit-learn's
//! `predict_proba`).
//!
//! Why not a crate: FP-Stalker's linking rule thresholds that probability (λ = 0.994) and the
//! gap between the two best candidates (0.1), so the forest must give scikit-learn's
//! probabilities. smartcore 0.7's `RandomForestClassifier` only votes (no probabilities, and
//! its bootstrap is drawn per class), and linfa-ensemble draws the features once per tree
//! rather than at each split, and votes.

use crate::synth::Rng;

/// How the forest is grown.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub trees: usize,
    /// Features tried at each split; `None` for ⌊√features⌋.
    pub features_per_split: Option<usize>,
    pub seed: u64,
}

impl Default for Params {
    /// scikit-learn's defaults before 0.22 (FP-Stalker's `RandomForestClassifier(n_jobs=4)`):
    /// ten trees, √features per split.
    fn default() -> Self {
        Params {
            trees: 10,
            features_per_split: None,
            seed: 1,
        }
    }
}

/// One node: a split (`feature`, `threshold`, children) or a leaf (`feature == LEAF`, `value`
/// the share of positive training rows).
#[derive(Debug, Clone, Copy)]
struct Node {
    feature: u32,
    threshold: f32,
    left: u32,
    right: u32,
    value: f32,
}

const LEAF: u32 = u32::MAX;

#[derive(Debug, Clone)]
struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    fn predict(&self, x: &[f32]) -> f32 {
        let mut n = &self.nodes[0];
        while n.feature != LEAF {
            n = &self.nodes[if x[n.feature as usize] <= n.threshold {
                n.left
            } else {
                n.right
            } as usize];
        }
        n.value
    }
}

#[derive(Debug, Clone)]
pub struct Forest {
    trees: Vec<Tree>,
    features: usize,
}

/// Gini impurity of a node with `pos` positive of `total` (weighted) rows, times `total`.
fn gini_mass(pos: f64, total: f64) -> f64 {
    if total <= 0.0 {
        return 0.0;
    }
    let p = pos / total;
    total * 2.0 * p * (1.0 - p)
}

/// Grows one tree. `rows` holds the distinct bootstrap rows, `weight[i]` how often row `i` was
/// drawn.
struct Grower<'a> {
    x: &'a [f32],
    y: &'a [bool],
    weight: &'a [f64],
    features: usize,
    per_split: usize,
    rng: Rng,
    scratch: Vec<(f32, u32)>,
}

impl Grower<'_> {
    fn grow(&mut self, rows: &mut [u32]) -> Tree {
        let mut nodes = Vec::new();
        // (node index, start, end) of nodes still to split
        let mut stack = vec![(0usize, 0usize, rows.len())];
        nodes.push(self.leaf(&rows[..]));
        while let Some((at, start, end)) = stack.pop() {
            let range = &mut rows[start..end];
            let Some((feature, threshold)) = self.best_split(range) else {
                continue;
            };
            // Partition the node's rows: those going left first.
            let mut i = 0;
            for j in 0..range.len() {
                if self.x[range[j] as usize * self.features + feature] <= threshold {
                    range.swap(i, j);
                    i += 1;
                }
            }
            let (l, r) = (nodes.len(), nodes.len() + 1);
            nodes.push(self.leaf(&range[..i]));
            nodes.push(self.leaf(&range[i..]));
            nodes[at].feature = feature as u32;
            nodes[at].threshold = threshold;
            nodes[at].left = l as u32;
            nodes[at].right = r as u32;
            stack.push((l, start, start + i));
            stack.push((r, start + i, end));
        }
        Tree { nodes }
    }

    fn leaf(&self, rows: &[u32]) -> Node {
        let (pos, total) = self.counts(rows);
        Node {
            feature: LEAF,
            threshold: 0.0,
            left: 0,
            right: 0,
            value: (pos / total.max(f64::MIN_POSITIVE)) as f32,
        }
    }

    fn counts(&self, rows: &[u32]) -> (f64, f64) {
        rows.iter().fold((0.0, 0.0), |(p, t), &r| {
            let w = self.weight[r as usize];
            (p + if self.y[r as usize] { w } else { 0.0 }, t + w)
        })
    }

    /// The split of `rows` that lowers the weighted Gini impurity most, among `per_split`
    /// features drawn at random that are not constant here (scikit-learn draws further when a
    /// drawn feature is constant in the node). `None` for a pure node or one that no feature
    /// splits.
    fn best_split(&mut self, rows: &[u32]) -> Option<(usize, f32)> {
        let (pos, total) = self.counts(rows);
        if rows.len() < 2 || pos == 0.0 || pos == total {
            return None;
        }
        let parent = gini_mass(pos, total);
        let mut order: Vec<usize> = (0..self.features).collect();
        let mut best: Option<(f64, usize, f32)> = None;
        let mut tried = 0;
        for k in 0..self.features {
            if tried == self.per_split {
                break;
            }
            let pick = k + self.rng.below(self.features - k);
            order.swap(k, pick);
            let f = order[k];
            self.scratch.clear();
            self.scratch.extend(
                rows.iter()
                    .map(|&r| (self.x[r as usize * self.features + f], r)),
            );
            self.scratch.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            if self.scratch[0].0 == self.scratch[self.scratch.len() - 1].0 {
                continue;
            }
            tried += 1;
            let (mut lp, mut lt) = (0.0, 0.0);
            for i in 0..self.scratch.len() - 1 {
                let (v, r) = self.scratch[i];
                let w = self.weight[r as usize];
                lt += w;
                if self.y[r as usize] {
                    lp += w;
                }
                let next = self.scratch[i + 1].0;
                if next == v {
                    continue;
                }
                let gain = parent - gini_mass(lp, lt) - gini_mass(pos - lp, total - lt);
                if best.is_none_or(|(g, _, _)| gain > g) {
                    // The midpoint, as scikit-learn; the lower value when the midpoint rounds
                    // up to the upper one.
                    let mid = v + (next - v) / 2.0;
                    best = Some((gain, f, if mid < next { mid } else { v }));
                }
            }
        }
        best.map(|(_, f, t)| (f, t))
    }
}

impl Forest {
    /// Fits a forest on `x` (row-major, `features` values a row) labelled `y`.
    pub fn fit(x: &[f32], features: usize, y: &[bool], p: Params) -> Forest {
        assert!(features > 0 && x.len() == features * y.len());
        let n = y.len();
        let per_split = p
            .features_per_split
            .unwrap_or(((features as f64).sqrt() as usize).max(1))
            .clamp(1, features);
        let mut rng = Rng::new(p.seed);
        let mut trees = Vec::with_capacity(p.trees);
        for t in 0..p.trees {
            let mut weight = vec![0.0f64; n];
            for _ in 0..n {
                weight[rng.below(n)] += 1.0;
            }
            let mut rows: Vec<u32> = (0..n as u32)
                .filter(|&r| weight[r as usize] > 0.0)
                .collect();
            let mut g = Grower {
                x,
                y,
                weight: &weight,
                features,
                per_split,
                rng: Rng::new(p.seed ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                scratch: Vec::new(),
            };
            trees.push(g.grow(&mut rows));
        }
        Forest { trees, features }
    }

    /// The probability that `x` is of the positive class: the mean over trees of the positive
    /// share in the leaf reached.
    pub fn predict(&self, x: &[f32]) -> f64 {
        debug_assert_eq!(x.len(), self.features);
        self.trees.iter().map(|t| t.predict(x) as f64).sum::<f64>() / self.trees.len() as f64
    }

    /// Nodes over all trees.
    pub fn nodes(&self) -> usize {
        self.trees.iter().map(|t| t.nodes.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of two features: the label is x0 > 0.5; x1 is noise.
    fn data(n: usize, seed: u64) -> (Vec<f32>, Vec<bool>) {
        let mut rng = Rng::new(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let (a, b) = (rng.f64() as f32, rng.f64() as f32);
            x.extend([a, b]);
            y.push(a > 0.5);
        }
        (x, y)
    }

    #[test]
    fn a_forest_learns_a_threshold_and_is_deterministic() {
        let (x, y) = data(2000, 3);
        let f = Forest::fit(&x, 2, &y, Params::default());
        assert!(f.predict(&[0.9, 0.1]) > 0.95);
        assert!(f.predict(&[0.1, 0.9]) < 0.05);
        let (tx, ty) = data(500, 4);
        let right = ty
            .iter()
            .enumerate()
            .filter(|(i, y)| (f.predict(&tx[2 * i..2 * i + 2]) > 0.5) == **y)
            .count();
        assert!(right >= 490, "{right} of 500");
        let g = Forest::fit(&x, 2, &y, Params::default());
        assert_eq!(f.nodes(), g.nodes());
        assert_eq!(f.predict(&[0.51, 0.3]), g.predict(&[0.51, 0.3]));
    }

    #[test]
    fn leaves_of_identical_rows_give_shares() {
        // Identical rows with mixed labels cannot be split: the leaf keeps their share.
        let x = vec![1.0f32; 40];
        let y: Vec<bool> = (0..40).map(|i| i % 4 == 0).collect();
        let f = Forest::fit(
            &x,
            1,
            &y,
            Params {
                trees: 50,
                ..Params::default()
            },
        );
        let p = f.predict(&[1.0]);
        assert!((p - 0.25).abs() < 0.08, "{p}");
    }
}
