//! The dependency graph of a resolution: adjacency lists in flat tables ([`Rows`],
//! [`Graph`]), the id-ordered ready set of Kahn's algorithm ([`ReadySet`]), and the
//! cycles among the plugins it cannot place.

/// Finds the cycles among the plugins Kahn's algorithm could not place (`waiting > 0`):
/// one in each strongly connected component that has any, so that every independent
/// cycle is reported (a plugin that depends on one cycle and sits on another is on
/// both; walking only "first unplaced dependency" from it found the first alone, which
/// a property test caught).
///
/// Inside a component every plugin has a dependency in the same component, so walking
/// "smallest dependency in the component" must revisit a plugin: that loop is a cycle.
/// Each plugin is walked at most once over all walks, so this is O(V + E).
pub(super) fn find_cycles(dependencies: &Rows, waiting: &[usize]) -> Vec<Vec<usize>> {
    let component = components(dependencies, waiting);
    let mut reported = vec![false; dependencies.len()];
    let mut walk_position = vec![usize::MAX; dependencies.len()];
    let mut cycles = Vec::new();
    // One cycle per strongly connected component of the unplaced plugins, starting at
    // its first plugin in id order; a plugin merely waiting on a cycle is on none.
    for start in 0..dependencies.len() {
        let Some(id) = component[start] else { continue };
        if reported[id] || !dependencies[start].iter().any(|&d| component[d] == Some(id)) {
            continue;
        }
        reported[id] = true;
        // Within a component every plugin has a dependency in it, so the walk goes on
        // until it comes back to a plugin on its path.
        let mut path = Vec::new();
        let mut current = start;
        while walk_position[current] == usize::MAX {
            walk_position[current] = path.len();
            path.push(current);
            current = *dependencies[current]
                .iter()
                .filter(|&&d| component[d] == Some(id))
                .min()
                .expect("a plugin in a cycle has a dependency in it");
        }
        let mut cycle = path[walk_position[current]..].to_vec();
        // Start the cycle at its smallest id, so it reads the same every time.
        let smallest = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
        cycle.rotate_left(smallest);
        cycle.push(cycle[0]);
        cycles.push(cycle);
        for &walked in &path {
            walk_position[walked] = usize::MAX;
        }
    }
    cycles
}

/// The strongly connected component of each unplaced plugin (`None` for placed ones),
/// by Tarjan's algorithm, iteratively so that a long chain cannot overflow the stack.
fn components(dependencies: &Rows, waiting: &[usize]) -> Vec<Option<usize>> {
    const UNSEEN: usize = usize::MAX;
    let count = dependencies.len();
    let (mut index, mut low) = (vec![UNSEEN; count], vec![0; count]);
    let mut on_stack = vec![false; count];
    let mut stack = Vec::new();
    let mut component = vec![None; count];
    let (mut next_index, mut next_component) = (0, 0);
    for root in (0..count).filter(|&n| waiting[n] > 0) {
        if index[root] != UNSEEN {
            continue;
        }
        // (node, how many of its dependencies have been looked at)
        let mut frames = vec![(root, 0)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (node, ref mut next)) = frames.last_mut() {
            if let Some(&dependency) = dependencies[node].get(*next) {
                *next += 1;
                if waiting[dependency] == 0 {
                    continue;
                }
                if index[dependency] == UNSEEN {
                    index[dependency] = next_index;
                    low[dependency] = next_index;
                    next_index += 1;
                    stack.push(dependency);
                    on_stack[dependency] = true;
                    frames.push((dependency, 0));
                } else if on_stack[dependency] {
                    low[node] = low[node].min(index[dependency]);
                }
                continue;
            }
            frames.pop();
            if let Some(&(parent, _)) = frames.last() {
                low[parent] = low[parent].min(low[node]);
            }
            if low[node] == index[node] {
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component[member] = Some(next_component);
                    if member == node {
                        break;
                    }
                }
                next_component += 1;
            }
        }
    }
    component
}

/// Positions ready to be placed, taken smallest first: a bitmap with one summary bit
/// per word, so that taking the smallest is a few word scans rather than a binary
/// heap's log n moves (a fifth of resolving 10,000 plugins went to the heap).
pub(super) struct ReadySet {
    words: Vec<u64>,
    summary: Vec<u64>,
    /// No summary word before this one has a bit set.
    first: usize,
}

impl ReadySet {
    pub(super) fn new(count: usize) -> ReadySet {
        let words = count.div_ceil(64);
        ReadySet {
            words: vec![0; words],
            summary: vec![0; words.div_ceil(64)],
            first: 0,
        }
    }

    #[inline]
    pub(super) fn insert(&mut self, position: usize) {
        let word = position / 64;
        self.words[word] |= 1 << (position % 64);
        self.summary[word / 64] |= 1 << (word % 64);
        self.first = self.first.min(word / 64);
    }

    #[inline]
    pub(super) fn pop_smallest(&mut self) -> Option<usize> {
        let offset = self.summary[self.first..].iter().position(|&bits| bits != 0)?;
        self.first += offset;
        let word = self.first * 64 + self.summary[self.first].trailing_zeros() as usize;
        let bits = self.words[word];
        self.words[word] = bits & (bits - 1);
        if self.words[word] == 0 {
            self.summary[self.first] &= !(1 << (word % 64));
        }
        Some(word * 64 + bits.trailing_zeros() as usize)
    }
}

/// The dependency graph of a resolution, both ways, by position in activation order.
#[derive(Clone, Debug)]
pub(crate) struct Graph {
    dependencies: Rows,
    /// The reverse graph, made the first time it is asked for: only a cascading disable
    /// and a deprecation notice ask, and most hosts never do either.
    dependents: std::sync::OnceLock<Rows>,
}

impl Graph {
    pub(super) fn new(dependencies: Rows) -> Graph {
        Graph {
            dependencies,
            dependents: std::sync::OnceLock::new(),
        }
    }

    /// The positions of the plugin's dependencies that are present.
    #[inline]
    pub(crate) fn dependencies(&self, position: usize) -> &[usize] {
        &self.dependencies[position]
    }

    /// The positions of the plugins that depend on it.
    #[inline]
    pub(crate) fn dependents(&self, position: usize) -> &[usize] {
        &self.dependents.get_or_init(|| self.dependencies.transpose())[position]
    }
}

/// Adjacency lists in two flat vectors: row `i` is `edges[starts[i]..starts[i + 1]]`.
/// Rows are filled in order: [`Rows::start_row`], then [`Rows::push`] its entries.
#[derive(Clone, Debug)]
pub(super) struct Rows {
    starts: Vec<usize>,
    edges: Vec<usize>,
}

impl Rows {
    pub(super) fn with_capacity(rows: usize, edges: usize) -> Rows {
        Rows {
            starts: Vec::with_capacity(rows),
            edges: Vec::with_capacity(edges),
        }
    }

    /// Opens the next row; entries pushed from now on belong to it.
    #[inline]
    pub(super) fn start_row(&mut self) {
        self.starts.push(self.edges.len());
    }

    #[inline]
    pub(super) fn push(&mut self, edge: usize) {
        self.edges.push(edge);
    }

    /// The number of entries in all rows.
    #[inline]
    pub(super) fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// The number of rows.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.starts.len()
    }

    /// The reverse graph: row `j` lists every `i` whose row holds `j`, in order.
    pub(super) fn transpose(&self) -> Rows {
        let rows = self.len();
        let mut starts = vec![0usize; rows + 1];
        for &edge in &self.edges {
            starts[edge + 1] += 1;
        }
        for row in 0..rows {
            starts[row + 1] += starts[row];
        }
        starts.pop();
        // Each entry of the reverse graph is written once, at the next free place of its
        // row; counting the rows first leaves exactly `edges.len()` places to fill, so
        // the list needs no zeroing first.
        let mut fill = starts.clone();
        let mut edges = Vec::with_capacity(self.edges.len());
        let slots = &mut edges.spare_capacity_mut()[..self.edges.len()];
        for row in 0..rows {
            for &edge in &self[row] {
                slots[fill[edge]].write(row);
                fill[edge] += 1;
            }
        }
        // SAFETY: every place below `self.edges.len()` was written above: `fill[j]`
        // walks row `j`'s places from `starts[j]` to `starts[j + 1]`, and the rows'
        // places tile `0..self.edges.len()`.
        unsafe { edges.set_len(self.edges.len()) };
        Rows { starts, edges }
    }
}

impl std::ops::Index<usize> for Rows {
    type Output = [usize];

    #[inline]
    fn index(&self, row: usize) -> &[usize] {
        let end = self.starts.get(row + 1).copied().unwrap_or(self.edges.len());
        &self.edges[self.starts[row]..end]
    }
}
