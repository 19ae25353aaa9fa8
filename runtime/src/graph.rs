//! The dependency graph of a stack: which resource must exist before which.
//!
//! An edge goes from a resource to each logical id it references ([`Resource::dependencies`]:
//! bindings, `store:`, `namespace:`), and from a `SecretRef` to the `Secret` of the same stack
//! that creates the secret it names (same store, same name), so that the reference is read after
//! the secret exists. Deploy walks it forwards, destroy backwards. A reference to
//! an undeclared id and a cycle are errors that name the resources involved.

use std::collections::{BTreeSet, HashMap};

use athanor_core::{Props, Resource, Stack};

use crate::error::{Error, Result};

/// Resources as nodes (by index), with their dependencies and a topological order.
#[derive(Debug, Clone)]
pub(crate) struct Graph {
    ids: Vec<String>,
    deps: Vec<Vec<usize>>,
    order: Vec<usize>,
}

impl Graph {
    /// The graph of a declared stack. Unknown references, duplicate ids and cycles are errors.
    pub(crate) fn from_stack(stack: &Stack) -> Result<Graph> {
        let nodes = stack.resources.iter().map(|r: &Resource| {
            let mut deps: Vec<String> = r.dependencies().into_iter().map(str::to_owned).collect();
            deps.extend(secret_made_here(stack, r));
            (r.id.clone(), deps)
        });
        Graph::build(nodes, true)
    }

    /// A graph of recorded resources (state), whose references to ids outside the set are
    /// dropped: what is gone cannot constrain an order any more.
    pub(crate) fn from_records(
        nodes: impl IntoIterator<Item = (String, Vec<String>)>,
    ) -> Result<Graph> {
        Graph::build(nodes, false)
    }

    fn build(
        nodes: impl IntoIterator<Item = (String, Vec<String>)>,
        strict: bool,
    ) -> Result<Graph> {
        let nodes: Vec<(String, Vec<String>)> = nodes.into_iter().collect();
        let mut index = HashMap::with_capacity(nodes.len());
        for (i, (id, _)) in nodes.iter().enumerate() {
            if index.insert(id.clone(), i).is_some() {
                return Err(Error::DuplicateId(id.clone()));
            }
        }
        let mut deps = vec![Vec::new(); nodes.len()];
        let mut dependents = vec![Vec::new(); nodes.len()];
        for (i, (id, refs)) in nodes.iter().enumerate() {
            let mut seen = BTreeSet::new();
            for r in refs {
                match index.get(r) {
                    Some(&j) if seen.insert(j) => {
                        deps[i].push(j);
                        dependents[j].push(i);
                    }
                    Some(_) => {}
                    None if strict => {
                        return Err(Error::UnknownReference {
                            from: id.clone(),
                            to: r.clone(),
                        });
                    }
                    None => {}
                }
            }
        }
        let ids: Vec<String> = nodes.into_iter().map(|(id, _)| id).collect();
        let order = topological(&deps, &dependents)
            .map_err(|cycle| Error::Cycle(cycle.into_iter().map(|i| ids[i].clone()).collect()))?;
        Ok(Graph { ids, deps, order })
    }

    /// The logical id of node `i`.
    pub(crate) fn id(&self, i: usize) -> &str {
        &self.ids[i]
    }

    /// Every node after everything it references (declaration order among independent nodes).
    pub(crate) fn order(&self) -> &[usize] {
        &self.order
    }

    /// The dependency lists of every node, for the scheduler.
    pub(crate) fn dep_lists(&self) -> &[Vec<usize>] {
        &self.deps
    }
}

/// The `Secret` of `stack` that creates the secret the `SecretRef` `r` names, if any.
fn secret_made_here(stack: &Stack, r: &Resource) -> Option<String> {
    let Props::SecretRef(reference) = &r.props else {
        return None;
    };
    stack
        .resources
        .iter()
        .find(|s| match &s.props {
            Props::Secret(secret) => {
                secret.store == reference.store
                    && crate::diff::resolved_name(&stack.app, "", s) == reference.name
            }
            _ => false,
        })
        .map(|s| s.id.clone())
}

/// Kahn's algorithm, taking the lowest index first so that independent resources keep their
/// declaration order. On a cycle, returns one cycle's nodes (closed: the first node repeats).
fn topological(deps: &[Vec<usize>], dependents: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = deps.len();
    let mut missing: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| missing[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &dependents[i] {
            missing[d] -= 1;
            if missing[d] == 0 {
                ready.insert(d);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Every node left has an unfinished dependency that is also left: follow them to a cycle.
    let left: Vec<bool> = missing.iter().map(|&m| m > 0).collect();
    let start = left.iter().position(|&l| l).unwrap_or(0);
    let mut path = vec![start];
    let mut at = start;
    loop {
        let Some(&next) = deps[at].iter().find(|&&j| left[j]) else {
            return Err(path);
        };
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut cycle = path.split_off(pos);
            cycle.push(next);
            return Err(cycle);
        }
        path.push(next);
        at = next;
    }
}

#[cfg(test)]
impl Graph {
    /// The node of logical id `id`.
    fn node(&self, id: &str) -> Option<usize> {
        self.ids.iter().position(|i| i == id)
    }

    /// The nodes node `i` references.
    fn deps(&self, i: usize) -> &[usize] {
        &self.deps[i]
    }

    /// The nodes that reference node `i`.
    fn dependents(&self, i: usize) -> Vec<usize> {
        (0..self.deps.len())
            .filter(|&j| self.deps[j].contains(&i))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use athanor_core::binding::{Binding, BindingValue};
    use athanor_core::stack::{KvNamespace, Secret, SecretsStore, Worker};
    use athanor_core::{ResourceRef, SecretSource};

    fn worker(id: &str, binds: &[&str]) -> Resource {
        Resource::new(
            id,
            Worker {
                code: athanor_core::stack::WorkerCode::Entrypoint("w.js".into()),
                bindings: binds
                    .iter()
                    .map(|b| {
                        Binding::new(
                            b.to_uppercase(),
                            BindingValue::Resource(ResourceRef::new(*b)),
                        )
                    })
                    .collect(),
                ..Worker::default()
            },
        )
    }

    #[test]
    fn dependencies_come_first_and_independent_resources_keep_their_order() {
        let stack = Stack::new("app", ".")
            .with(worker("api", &["kv", "secret"]))
            .with(Resource::new("kv", KvNamespace::default()))
            .with(Resource::new(
                "secret",
                Secret {
                    value: SecretSource::env("X"),
                    name: None,
                    store: Some(ResourceRef::new("store")),
                    scopes: vec![],
                },
            ))
            .with(Resource::new("store", SecretsStore::default()))
            .with(Resource::new("other", KvNamespace::default()));
        let g = Graph::from_stack(&stack).unwrap();
        let order: Vec<&str> = g.order().iter().map(|&i| g.id(i)).collect();
        assert_eq!(order, ["kv", "store", "secret", "api", "other"]);
        let api = g.node("api").unwrap();
        assert_eq!(g.deps(api).len(), 2);
        assert_eq!(g.dependents(g.node("kv").unwrap()), &[api]);
    }

    #[test]
    fn a_secret_ref_comes_after_the_secret_the_stack_makes_for_it() {
        let secret = |name: Option<&str>| Secret {
            value: SecretSource::env("X"),
            name: name.map(str::to_owned),
            store: None,
            scopes: vec![],
        };
        let reference = |name: &str| athanor_core::stack::SecretRef {
            name: name.into(),
            store: None,
        };
        let stack = Stack::new("app", ".")
            .with(Resource::new("uses-key", reference("API_KEY")))
            .with(Resource::new("uses-other", reference("OTHER")))
            .with(Resource::new("key", secret(Some("API_KEY"))));
        let g = Graph::from_stack(&stack).unwrap();
        let order: Vec<&str> = g.order().iter().map(|&i| g.id(i)).collect();
        assert_eq!(order, ["uses-other", "key", "uses-key"]);
    }

    #[test]
    fn an_unknown_reference_names_both_resources() {
        let stack = Stack::new("app", ".").with(worker("api", &["sessions"]));
        let err = Graph::from_stack(&stack).unwrap_err();
        assert!(
            matches!(&err, Error::UnknownReference { from, to } if from == "api" && to == "sessions")
        );
        assert!(err.to_string().contains("`sessions`"));
    }

    #[test]
    fn a_cycle_is_reported_with_its_members() {
        let stack = Stack::new("app", ".")
            .with(worker("a", &["b"]))
            .with(worker("b", &["c"]))
            .with(worker("c", &["a"]))
            .with(worker("d", &[]));
        let err = Graph::from_stack(&stack).unwrap_err();
        let Error::Cycle(members) = &err else {
            panic!("expected a cycle, got {err}")
        };
        assert_eq!(members.first(), members.last());
        let mut inner: Vec<&str> = members[1..].iter().map(String::as_str).collect();
        inner.sort();
        assert_eq!(inner, ["a", "b", "c"]);
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let stack = Stack::new("app", ".")
            .with(Resource::new("kv", KvNamespace::default()))
            .with(Resource::new("kv", KvNamespace::default()));
        assert!(matches!(Graph::from_stack(&stack), Err(Error::DuplicateId(id)) if id == "kv"));
    }

    #[test]
    fn records_may_reference_what_is_gone() {
        let g = Graph::from_records([
            ("api".to_owned(), vec!["gone".to_owned(), "kv".to_owned()]),
            ("kv".to_owned(), vec![]),
        ])
        .unwrap();
        assert_eq!(g.deps(g.node("api").unwrap()), &[g.node("kv").unwrap()]);
    }
}
