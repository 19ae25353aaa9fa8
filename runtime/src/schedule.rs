//! A bounded, dependency-ordered runner of futures, shared by deploy and destroy.
//!
//! Each node starts as soon as every node it waits for is ready for it, with at most
//! `concurrency` in flight; among ready nodes, the one with the longest chain behind it goes
//! first, so the critical path is never starved. A node may wait for another to be done, or
//! only for it to have published (its output is usable, its own work goes on: a namespace
//! writing its values while the Worker bound to it uploads); a node that ends well has
//! published. A failed node skips everything that still waits for it, directly or not;
//! independent nodes go on. All futures are polled on the caller's task, so they may borrow
//! from it (the provider is a plain `&dyn Provider`).

use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::Poll;

use tokio::sync::watch;

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

/// What a node waits for before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Node `.0` ended well.
    Done(usize),
    /// Node `.0` published (or ended well).
    Published(usize),
}

impl Wait {
    fn node(self) -> usize {
        match self {
            Wait::Done(i) | Wait::Published(i) => i,
        }
    }
}

/// What running nodes tell the runner and each other: which have published, which have ended.
/// The caller makes it, so that its node futures may borrow it.
#[derive(Debug)]
pub(crate) struct Signals {
    published: Mutex<Vec<usize>>,
    ended: watch::Sender<Vec<bool>>,
}

impl Signals {
    /// Signals for `n` nodes, none published or ended.
    pub(crate) fn new(n: usize) -> Signals {
        Signals {
            published: Mutex::new(Vec::new()),
            ended: watch::Sender::new(vec![false; n]),
        }
    }

    /// Node `i`'s output is usable: the nodes that wait for it to publish may start.
    pub(crate) fn publish(&self, i: usize) {
        self.published.lock().expect("signals lock").push(i);
    }

    /// Resolves once node `i` has ended, well or not (or was skipped).
    pub(crate) async fn ended(&self, i: usize) {
        let mut rx = self.ended.subscribe();
        // The sender lives in `self`, which outlives this call: the wait cannot fail.
        let _ = rx.wait_for(|ended| ended[i]).await;
    }

    fn take_published(&self) -> Vec<usize> {
        std::mem::take(&mut *self.published.lock().expect("signals lock"))
    }

    fn any_published(&self) -> bool {
        !self.published.lock().expect("signals lock").is_empty()
    }

    fn end(&self, i: usize) {
        self.ended.send_modify(|ended| ended[i] = true);
    }
}

/// Runs every node; `waits_for[i]` lists the nodes node `i` starts after, each done. It must be
/// acyclic (the graph module guarantees it).
pub(crate) async fn run<'a, T, E>(
    waits_for: &[Vec<usize>],
    concurrency: usize,
    start: impl FnMut(usize) -> NodeFuture<'a, T, E>,
) -> Vec<Outcome<T, E>> {
    let waits: Vec<Vec<Wait>> = waits_for
        .iter()
        .map(|ws| ws.iter().map(|&w| Wait::Done(w)).collect())
        .collect();
    run_staged(&waits, concurrency, &Signals::new(waits.len()), start).await
}

/// Runs `n` independent jobs, `concurrency` at a time, started in index order, until one
/// fails: then no other starts, those in flight finish, and the failure of the lowest index is
/// returned (every job before it ran). Otherwise the results, in index order.
pub(crate) async fn run_each<'a, T, E>(
    n: usize,
    concurrency: usize,
    mut start: impl FnMut(usize) -> NodeFuture<'a, T, E>,
) -> Result<Vec<T>, E> {
    let mut results: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let mut failed: Option<(usize, E)> = None;
    let mut in_flight: Vec<(usize, NodeFuture<'a, T, E>)> = Vec::new();
    let mut next = 0;
    loop {
        while failed.is_none() && next < n && in_flight.len() < concurrency.max(1) {
            in_flight.push((next, start(next)));
            next += 1;
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
            Ok(value) => results[i] = Some(value),
            Err(e) if failed.as_ref().is_none_or(|(at, _)| i < *at) => failed = Some((i, e)),
            Err(_) => {}
        }
    }
    match failed {
        Some((_, e)) => Err(e),
        None => Ok(results.into_iter().flatten().collect()),
    }
}

/// Runs every node; `waits_for[i]` lists what node `i` starts after. The node futures call
/// `signals.publish` and `signals.ended` on the same `signals`. The graph must be acyclic.
pub(crate) async fn run_staged<'a, T, E>(
    waits_for: &[Vec<Wait>],
    concurrency: usize,
    signals: &Signals,
    mut start: impl FnMut(usize) -> NodeFuture<'a, T, E>,
) -> Vec<Outcome<T, E>> {
    let mut board = Board::new(waits_for);
    let mut in_flight: Vec<(usize, NodeFuture<'a, T, E>)> = Vec::new();
    let concurrency = concurrency.max(1);
    loop {
        while in_flight.len() < concurrency {
            let Some(i) = board.next_ready() else {
                break;
            };
            in_flight.push((i, start(i)));
        }
        if in_flight.is_empty() {
            break;
        }
        let ended = std::future::poll_fn(|cx| {
            for k in 0..in_flight.len() {
                if let Poll::Ready(r) = in_flight[k].1.as_mut().poll(cx) {
                    let (i, _) = in_flight.swap_remove(k);
                    return Poll::Ready(Some((i, r)));
                }
            }
            if signals.any_published() {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await;
        for at in signals.take_published() {
            board.release(at, false);
        }
        match ended {
            None => {}
            Some((i, Ok(value))) => {
                board.outcomes[i] = Some(Outcome::Done(value));
                board.release(i, true);
                signals.end(i);
            }
            Some((i, Err(e))) => {
                board.outcomes[i] = Some(Outcome::Failed(e));
                signals.end(i);
                for skipped in board.skip_after(i) {
                    signals.end(skipped);
                }
            }
        }
    }
    board
        .outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Outcome::Skipped { blocked_by: None }))
        .collect()
}

/// Where every node of a run stands.
struct Board<T, E> {
    /// For each node, the nodes waiting for it, and how.
    unblocks: Vec<Vec<(usize, Wait)>>,
    /// For each node, the longest chain of nodes it unblocks: its priority.
    rank: Vec<usize>,
    /// For each node, how many of its waits are not met yet.
    missing: Vec<usize>,
    published: Vec<bool>,
    started: Vec<bool>,
    outcomes: Vec<Option<Outcome<T, E>>>,
    ready: BinaryHeap<(usize, std::cmp::Reverse<usize>)>,
}

impl<T, E> Board<T, E> {
    fn new(waits_for: &[Vec<Wait>]) -> Board<T, E> {
        let n = waits_for.len();
        let mut unblocks: Vec<Vec<(usize, Wait)>> = vec![Vec::new(); n];
        for (i, ws) in waits_for.iter().enumerate() {
            for &w in ws {
                unblocks[w.node()].push((i, w));
            }
        }
        let plain: Vec<Vec<usize>> = unblocks
            .iter()
            .map(|u| u.iter().map(|&(i, _)| i).collect())
            .collect();
        let rank = chain_lengths(&plain);
        let missing: Vec<usize> = waits_for.iter().map(Vec::len).collect();
        let ready = (0..n)
            .filter(|&i| missing[i] == 0)
            .map(|i| (rank[i], std::cmp::Reverse(i)))
            .collect();
        Board {
            unblocks,
            rank,
            missing,
            published: vec![false; n],
            started: vec![false; n],
            outcomes: (0..n).map(|_| None).collect(),
            ready,
        }
    }

    /// The ready node with the longest chain behind it, marked started.
    fn next_ready(&mut self) -> Option<usize> {
        loop {
            let (_, std::cmp::Reverse(i)) = self.ready.pop()?;
            if self.outcomes[i].is_none() {
                self.started[i] = true;
                return Some(i);
            }
        }
    }

    /// Counts node `at`'s publication (`done`: and its good end) towards the nodes waiting
    /// for it.
    fn release(&mut self, at: usize, done: bool) {
        let was_published = std::mem::replace(&mut self.published[at], true);
        for &(d, wait) in &self.unblocks[at] {
            let met = match wait {
                Wait::Published(_) => !was_published,
                Wait::Done(_) => done,
            };
            if met {
                self.missing[d] -= 1;
                if self.missing[d] == 0 && self.outcomes[d].is_none() {
                    self.ready.push((self.rank[d], std::cmp::Reverse(d)));
                }
            }
        }
    }

    /// After node `i` failed, skips every node that has not started and waits for it, directly
    /// or not, except what waits only for its publication when it had published; returns them.
    fn skip_after(&mut self, i: usize) -> Vec<usize> {
        let mut skipped = Vec::new();
        let mut stack = vec![i];
        while let Some(at) = stack.pop() {
            for &(d, wait) in &self.unblocks[at] {
                let blocked = matches!(wait, Wait::Done(_)) || !self.published[at];
                if blocked && self.outcomes[d].is_none() && !self.started[d] {
                    self.outcomes[d] = Some(Outcome::Skipped {
                        blocked_by: Some(at),
                    });
                    skipped.push(d);
                    stack.push(d);
                }
            }
        }
        skipped
    }
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
    async fn independent_jobs_keep_the_bound_and_their_order() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let results = run_each(10, 3, |i| {
            let (running, peak) = (&running, &peak);
            Box::pin(async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                // Later jobs end sooner: the results still come back in index order.
                tokio::time::sleep(Duration::from_millis(10 - i as u64)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok::<usize, ()>(i)
            })
        })
        .await;
        assert_eq!(results, Ok((0..10).collect::<Vec<_>>()));
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn after_a_failure_no_job_starts_and_the_first_failure_in_order_is_returned() {
        let started = Mutex::new(Vec::new());
        let result = run_each(10, 3, |i| {
            let started = &started;
            Box::pin(async move {
                started.lock().unwrap().push(i);
                match i {
                    // Job 2 fails first; job 1, in flight, fails after it.
                    1 => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Err(format!("job {i}"))
                    }
                    2 => Err(format!("job {i}")),
                    _ => {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        Ok(i)
                    }
                }
            })
        })
        .await;
        assert_eq!(result, Err("job 1".to_owned()));
        assert_eq!(started.into_inner().unwrap(), [0, 1, 2]);
    }

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

    #[tokio::test]
    async fn a_publication_starts_its_waiters_and_a_later_failure_skips_only_the_others() {
        // 1 waits for 0 to publish, 2 for 0 to be done; 0 publishes, waits for 1 to start, fails.
        let waits = vec![vec![], vec![Wait::Published(0)], vec![Wait::Done(0)]];
        let signals = Signals::new(3);
        let started = Mutex::new(Vec::new());
        let outcomes = run_staged(&waits, 4, &signals, |i| {
            let (signals, started) = (&signals, &started);
            Box::pin(async move {
                started.lock().unwrap().push(i);
                if i == 0 {
                    signals.publish(0);
                    while !started.lock().unwrap().contains(&1) {
                        tokio::task::yield_now().await;
                    }
                    return Err("late");
                }
                // 1 may wait for 0's end, which comes.
                signals.ended(0).await;
                Ok(i)
            })
        })
        .await;
        assert!(matches!(outcomes[0], Outcome::Failed("late")));
        assert!(matches!(outcomes[1], Outcome::Done(1)));
        assert!(matches!(
            outcomes[2],
            Outcome::Skipped {
                blocked_by: Some(0)
            }
        ));
        assert_eq!(*started.lock().unwrap(), [0, 1]);
    }

    #[test]
    fn chain_lengths_count_the_longest_path() {
        let unblocks = vec![vec![1, 3], vec![2], vec![], vec![]];
        assert_eq!(chain_lengths(&unblocks), vec![3, 2, 1, 1]);
    }
}
