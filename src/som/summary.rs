//! What the training data left on each node of the final map: how many samples it won, how
//! far they were from it, and which labels they carried. Read by the pictures (hits, labels),
//! by `/predict` (a node's majority label) and by anomaly detection (a node's usual distance).
//!
//! Computed once, from the best-matching node and distance of every sample that the final
//! errors already need (no pass of its own over the data). Labels are indices into a list of
//! names kept outside the core.

/// Per node (flat index `r * cols + c`), what the training samples it won say.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSummary {
    /// Samples won; they sum to the number of samples.
    pub hits: Vec<u64>,
    /// Mean distance (the map's, as the quantization error measures it) of the samples won;
    /// `None` where the node won none.
    pub mean_distance: Vec<Option<f64>>,
    /// `(label, count)` of the samples won, in increasing label, no zero count; empty where
    /// the node won none. `None` when the training had no labels.
    pub label_counts: Option<Vec<Vec<(u32, u64)>>>,
}

impl NodeSummary {
    /// The summary of `nodes` nodes from each sample's best-matching node and distance, in
    /// sample order, and each sample's label (as many as samples), when there are labels.
    pub fn new(
        nodes: usize,
        nearest: impl ExactSizeIterator<Item = (usize, f64)>,
        labels: Option<&[u32]>,
    ) -> Self {
        let mut hits = vec![0u64; nodes];
        let mut sums = vec![0.0; nodes];
        let mut counts: Option<Vec<Vec<(u32, u64)>>> = labels.map(|_| vec![Vec::new(); nodes]);
        for (sample, (node, distance)) in nearest.enumerate() {
            hits[node] += 1;
            sums[node] += distance;
            if let (Some(counts), Some(labels)) = (&mut counts, labels) {
                let label = labels[sample];
                let node = &mut counts[node];
                match node.binary_search_by_key(&label, |&(l, _)| l) {
                    Ok(at) => node[at].1 += 1,
                    Err(at) => node.insert(at, (label, 1)),
                }
            }
        }
        let mean_distance = (hits.iter().zip(&sums))
            .map(|(&hits, &sum)| (hits > 0).then(|| sum / hits as f64))
            .collect();
        NodeSummary {
            hits,
            mean_distance,
            label_counts: counts,
        }
    }
}

/// The label of the largest count of `(label, count)` pairs in increasing label, the first
/// (smallest label) among equals.
pub fn majority(counts: &[(u32, u64)]) -> Option<u32> {
    let mut best: Option<(u32, u64)> = None;
    for &(label, count) in counts {
        if best.is_none_or(|(_, most)| count > most) {
            best = Some((label, count));
        }
    }
    best.map(|(label, _)| label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_distances_and_label_counts_are_gathered_per_node() {
        let nearest = [(0, 1.0), (2, 0.5), (0, 3.0), (2, 1.5), (2, 1.0)];
        let labels = [1, 0, 1, 2, 0];
        let summary = NodeSummary::new(3, nearest.into_iter(), Some(&labels));
        assert_eq!(summary.hits, [2, 0, 3]);
        assert_eq!(summary.mean_distance, [Some(2.0), None, Some(1.0)]);
        assert_eq!(
            summary.label_counts,
            Some(vec![vec![(1, 2)], vec![], vec![(0, 2), (2, 1)]])
        );
        let counts = summary.label_counts.unwrap();
        assert_eq!(majority(&counts[2]), Some(0));
    }

    #[test]
    fn a_tie_goes_to_the_smallest_label_and_no_labels_give_no_counts() {
        assert_eq!(majority(&[(3, 2), (5, 4), (7, 4)]), Some(5));
        assert_eq!(majority(&[]), None);
        let summary = NodeSummary::new(2, [(1, 0.25)].into_iter(), None);
        assert_eq!(summary.label_counts, None);
        assert_eq!(summary.hits, [0, 1]);
    }
}
