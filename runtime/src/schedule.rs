//! A bounded, dependency-ordered runner of futures, shared by deploy and destroy.
//!
//! Each node starts as soon as every node it waits for is done, with at most `concurrency` in
//! flight; among ready nodes, the one with the longest chain behind it goes first, so the
//! critical path is never starved. A failed node skips everything that waits for it, directly
//! or not; independent nodes go on. All futures are polled on the caller's task, so they may
//! borrow from it (the provider is a plain `&dyn Provider`).

use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// A future of one node's work.
pub(crate) type NodeFuture<'a, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'a>>;

/// How one node ended.
#[derive(Debug)]
pub(crate) enum Outcome<T, E> {
    /// It succeeded.
    Done(T),
    /// It failed.
    Failed(E),
    /// It did not run: node `blocked_by`, which it waits for, failed or was skipped (`None`: it
    /// was never reached, which an acyclic graph does not allow).
    Skipped { blocked_by: Option<usize> },
}

/// Runs every node; `waits_for[i]` lists the nodes node `i` starts after. `waits_for` must be
/// acyclic (the graph module guarantees it).
pub(crate) async fn run<'a, T, E>(
    waits_for: &[Vec<usize>],
    concurrency: usize,
    mut start: impl FnMut(usize) -> NodeFuture<'a, T, E>,
) -> Vec<Outcome<T, E>> {
    let n = waits_for.len();
    let mut unblocks = vec![Vec::new(); n];
    for (i, ws) in waits_for.iter().enumerate() {
        for &w in ws {
            unblocks[w].push(i);
        }
    }
    let rank = chain_lengths(&unblocks);
    let mut missing: Vec<usize> = waits_for.iter().map(Vec::len).collect();
    let mut outcomes: Vec<Option<Outcome<T, E>>> = (0..n).map(|_| None).collect();
    let mut ready: BinaryHeap<(usize, std::cmp::Reverse<usize>)> = (0..n)
        .filter(|&i| missing[i] == 0)
        .map(|i| (rank[i], std::cmp::Reverse(i)))
        .collect();
    let mut in_flight: Vec<(usize, NodeFuture<'a, T, E>)> = Vec::new();
    let concurrency = concurrency.max(1);
    loop {
        while in_flight.len() < concurrency {
            let Some((_, std::cmp::Reverse(i))) = ready.pop() else {
                break;
            };
            in_flight.push((i, start(i)));
        }
        if in_flight.is_empty() {
            break;
        }
        let (i, result) = std::future::poll_fn(|cx| {
            for k in 0..in_flight.len() {
                if let Poll::Ready(r) = in_flight[k].1.as_mut().poll(cx) {
                    let (i, _) = in_flight.swap_remove(k);
                    return Poll::Ready((i, r));
                }
            }
            Poll::Pending
        })
        .await;
        match result {
            Ok(value) => {
                outcomes[i] = Some(Outcome::Done(value));
                for &d in &unblocks[i] {
                    missing[d] -= 1;
                    if missing[d] == 0 && outcomes[d].is_none() {
                        ready.push((rank[d], std::cmp::Reverse(d)));
                    }
                }
            }
            Err(e) => {
                outcomes[i] = Some(Outcome::Failed(e));
                let mut stack = vec![i];
                while let Some(at) = stack.pop() {
                    for &d in &unblocks[at] {
                        if outcomes[d].is_none() {
                            outcomes[d] = Some(Outcome::Skipped {
                                blocked_by: Some(at),
                            });
                            stack.push(d);
                        }
                    }
                }
            }
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Outcome::Skipped { blocked_by: None }))
        .collect()
}

/// For each node, the number of nodes on the longest chain it unblocks (itself included).
fn chain_lengths(unblocks: &[Vec<usize>]) -> Vec<usize> {
    let n = unblocks.len();
    let mut memo = vec![0usize; n];
    // Iterative post-order, so long chains cannot overflow the stack.
    for root in 0..n {
        if memo[root] != 0 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        while let Some((node, next)) = stack.pop() {
            if next < unblocks[node].len() {
                stack.push((node, next + 1));
                let child = unblocks[node][next];
                if memo[child] == 0 {
                    stack.push((child, 0));
                }
            } else {
                memo[node] = 1 + unblocks[node].iter().map(|&c| memo[c]).max().unwrap_or(0);
            }
        }
    }
    memo
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn nodes_wait_for_their_dependencies_and_respect_the_bound() {
        // 0 <- 1 <- 2, and 3..8 independent.
        let mut waits = vec![vec![], vec![0], vec![1]];
        waits.extend((3..8).map(|_| vec![]));
        let log = Mutex::new(Vec::new());
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let outcomes = run(&waits, 3, |i| {
            let (log, running, peak) = (&log, &running, &peak);
            Box::pin(async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                log.lock().unwrap().push(("start", i));
                tokio::time::sleep(Duration::from_millis(5)).await;
                log.lock().unwrap().push(("end", i));
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<usize, ()>(i)
            })
        })
        .await;
        assert!(outcomes.iter().all(|o| matches!(o, Outcome::Done(_))));
        assert!(peak.load(Ordering::SeqCst) <= 3);
        let log = log.into_inner().unwrap();
        let pos = |e: &str, i: usize| log.iter().position(|x| *x == (e, i)).unwrap();
        assert!(pos("end", 0) < pos("start", 1));
        assert!(pos("end", 1) < pos("start", 2));
        // The chain's head starts first: it has the longest chain behind it.
        assert_eq!(log[0], ("start", 0));
    }

    #[tokio::test]
    async fn a_failure_skips_its_dependents_and_nothing_else() {
        let waits = vec![vec![], vec![0], vec![1], vec![]];
        let outcomes = run(&waits, 8, |i| {
            Box::pin(async move { if i == 0 { Err("boom") } else { Ok(i) } })
        })
        .await;
        assert!(matches!(outcomes[0], Outcome::Failed("boom")));
        assert!(matches!(
            outcomes[1],
            Outcome::Skipped {
                blocked_by: Some(0)
            }
        ));
        assert!(matches!(
            outcomes[2],
            Outcome::Skipped {
                blocked_by: Some(1)
            }
        ));
        assert!(matches!(outcomes[3], Outcome::Done(3)));
    }

    #[test]
    fn chain_lengths_count_the_longest_path() {
        let unblocks = vec![vec![1, 3], vec![2], vec![], vec![]];
        assert_eq!(chain_lengths(&unblocks), vec![3, 2, 1, 1]);
    }
}
