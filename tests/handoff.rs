//! The hand-off from the sampler to the statistics thread (`sample::snapshot::hand_off`) with
//! the real statistics thread (`stats::run`): samples wait without waking it, and every view a
//! request gets has folded in every sample sent before the request. No sockets; every wait has
//! a deadline and waits for a condition.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{bounded, Receiver, Sender};
use ifstatsd::restart::{self, Reason};
use ifstatsd::sample::proc_net_dev::Counters;
use ifstatsd::sample::snapshot::{
    hand_off, Doorbell, Inbox, InterfaceSample, LinkInfo, Outbox, Sample, Snapshot, BATCH,
};
use ifstatsd::stats::view::SharedView;
use ifstatsd::stats::{self, HandoffRequest, Stats};
use ifstatsd::store::Saver;

const INTERVAL: Duration = Duration::from_secs(10);

/// Long enough for any machine; a deadline, not a sleep: the waits end as soon as they can.
const DEADLINE: Duration = Duration::from_secs(20);

/// A sample of one interface `eth0` that has received `rx_bytes`, taken `k` intervals after `t0`.
fn sample(t0: Instant, k: u32, rx_bytes: u64) -> Sample {
    let counters = Counters {
        rx_bytes,
        ..Counters::default()
    };
    Sample {
        taken_at: t0 + INTERVAL * k,
        wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000) + INTERVAL * k,
        result: Ok(Snapshot {
            interfaces: vec![InterfaceSample {
                name: "eth0".into(),
                counters,
                ifindex: Some(2),
                oper_state: None,
                speed_mbps: None,
                link: LinkInfo::default(),
            }],
            ..Snapshot::default()
        }),
    }
}

/// The statistics thread, started after a first sample at `t0` (as the daemon applies one
/// before it starts its threads).
struct Running {
    t0: Instant,
    outbox: Outbox,
    doorbell: Doorbell,
    shared: Arc<SharedView>,
    spent: Receiver<Snapshot>,
    handoffs: Sender<HandoffRequest>,
    thread: thread::JoinHandle<()>,
}

fn start() -> Running {
    let t0 = Instant::now();
    let mut stats = Stats::new("/proc/net/dev", INTERVAL);
    stats.apply(sample(t0, 0, 0));
    let shared = Arc::new(SharedView::new(stats.view()));
    let (outbox, inbox, doorbell) = hand_off();
    let (spent_tx, spent) = bounded(64);
    let (handoffs, handoffs_rx) = bounded(1);
    let thread = thread::spawn({
        let shared = Arc::clone(&shared);
        move || run(stats, inbox, spent_tx, &shared, handoffs_rx)
    });
    Running {
        t0,
        outbox,
        doorbell,
        shared,
        spent,
        handoffs,
        thread,
    }
}

fn run(
    stats: Stats,
    inbox: Inbox,
    spent: Sender<Snapshot>,
    shared: &SharedView,
    handoffs: Receiver<HandoffRequest>,
) {
    stats::run(stats, inbox, spent, shared, None::<Saver>, handoffs);
}

#[test]
fn a_request_gets_a_view_of_every_sample_sent_before_it() {
    let r = start();
    for k in 1..=3 {
        r.outbox.send(sample(r.t0, k, 1000 * u64::from(k))).unwrap();
    }
    assert_eq!(r.doorbell.sent(), 3);
    // Fewer than a batch: nothing rang, so no view was built for them.
    assert_eq!(r.shared.samples(), 0);
    assert_eq!(r.shared.current().collection.samples_total, 1);

    let view = r.shared.fresh(&r.doorbell, Instant::now() + DEADLINE);
    assert_eq!(
        view.collection.samples_total, 4,
        "the first sample and the three sent"
    );
    let eth0 = view.interface("eth0").unwrap();
    assert_eq!(eth0.counters.rx_bytes, 3000);
    let current = eth0.rates.current.as_ref().unwrap();
    assert_eq!(current.rx_bytes_per_sec, 100.0, "1000 bytes in 10 s");
    assert_eq!(r.shared.samples(), 3);
    // Their snapshots went back for the sampler to reuse.
    assert_eq!(r.spent.try_iter().count(), 3);

    // Nothing new: the same view, not a rebuilt one, and no wait.
    let again = r.shared.fresh(&r.doorbell, Instant::now() + DEADLINE);
    assert!(Arc::ptr_eq(&view, &again));

    r.outbox.send(sample(r.t0, 4, 5000)).unwrap();
    let view = r.shared.fresh(&r.doorbell, Instant::now() + DEADLINE);
    assert_eq!(view.collection.samples_total, 5);
    assert_eq!(view.interface("eth0").unwrap().counters.rx_bytes, 5000);
    drop(r.outbox);
    r.thread.join().unwrap();
}

#[test]
fn a_batch_of_samples_is_folded_in_without_a_request() {
    let r = start();
    for k in 1..=BATCH as u32 {
        r.outbox.send(sample(r.t0, k, u64::from(k))).unwrap();
    }
    // The sampler rang at the batch: every snapshot comes back, with no request made.
    for _ in 0..BATCH {
        r.spent
            .recv_timeout(DEADLINE)
            .expect("a batch is folded in without a request");
    }
    // ... and no view was built for it, as none was wanted.
    assert_eq!(r.shared.samples(), 0);
    let view = r.shared.fresh(&r.doorbell, Instant::now() + DEADLINE);
    assert_eq!(view.collection.samples_total, 1 + BATCH as u64);
    drop(r.outbox);
    r.thread.join().unwrap();
}

#[test]
fn a_request_waits_for_the_statistics_thread_no_longer_than_its_deadline() {
    // No statistics thread: nothing will fold the sample in.
    let t0 = Instant::now();
    let mut stats = Stats::new("/proc/net/dev", INTERVAL);
    stats.apply(sample(t0, 0, 0));
    let shared = SharedView::new(stats.view());
    let (outbox, inbox, doorbell) = hand_off();
    outbox.send(sample(t0, 1, 1000)).unwrap();
    let view = shared.fresh(&doorbell, Instant::now() + Duration::from_millis(50));
    assert_eq!(
        view.collection.samples_total, 1,
        "the latest view, served as it is"
    );
    assert!(
        inbox.wanted.try_recv().is_ok(),
        "the request asked for a view"
    );
    // A deadline already past: the latest view at once, the bell rung again.
    let view = shared.fresh(&doorbell, Instant::now());
    assert_eq!(view.collection.samples_total, 1);
    assert!(inbox.wanted.try_recv().is_ok());
}

#[test]
fn a_restart_hand_off_includes_the_samples_still_waiting() {
    let r = start();
    for k in 1..=2 {
        r.outbox.send(sample(r.t0, k, 7000 * u64::from(k))).unwrap();
    }
    let (reply, replies) = bounded(1);
    r.handoffs
        .send(HandoffRequest {
            reason: Reason::LoopWedged,
            daemon_age: Duration::from_secs(30),
            reply,
        })
        .unwrap();
    let bytes = replies.recv_timeout(DEADLINE).unwrap();
    let handoff = restart::decode(&bytes).unwrap();
    assert_eq!(handoff.health.samples_total, 3);
    let eth0 = &handoff.interfaces.interfaces[0];
    assert_eq!(eth0.counters.rx_bytes, 14_000);
    drop(r.outbox);
    r.thread.join().unwrap();
}

#[test]
fn when_the_sampler_hangs_up_the_statistics_thread_folds_in_the_rest_and_ends() {
    let r = start();
    r.outbox.send(sample(r.t0, 1, 42)).unwrap();
    drop(r.outbox);
    r.thread.join().unwrap();
    let view = r.shared.current();
    assert_eq!(view.collection.samples_total, 2);
    assert_eq!(view.interface("eth0").unwrap().counters.rx_bytes, 42);
    assert_eq!(r.shared.samples(), 1);
}
