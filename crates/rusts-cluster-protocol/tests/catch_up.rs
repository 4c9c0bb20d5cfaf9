//! Catch-up: a joining copy fetches the merged data of its sources, once
//! every node reports the generation that made it join.

use rusts_cluster_protocol::{Options, Output};

use crate::{
    admission::move_one_copy,
    util::{sample, Net},
};

/// A copy of shard 0 moving to node2 (`move_one_copy`), with 10 points
/// written and acknowledged before, fetched in pages of 3.
fn ten_points_to_catch_up() -> (Net, Vec<rusts_cluster_config::ClusterConfig>) {
    let (a, steps) = move_one_copy();
    let options = Options {
        catch_up_page: 3,
        ..Options::default()
    };
    let mut net = Net::new(&a, options);
    let points: Vec<_> = (0..10).map(|t| sample(0, t)).collect();
    net.cores[0].write(points, 1, 0).unwrap();
    net.run();
    assert!(net.done.pop().unwrap().is_acknowledged());
    (net, steps)
}

#[test]
fn a_joining_copy_catches_up_only_once_every_node_runs_its_step() {
    let (mut net, steps) = ten_points_to_catch_up();
    // node2 (joining) and node0 run step 1; node1 is still on A.
    net.deploy(2, &steps[0]);
    net.deploy(0, &steps[0]);
    assert_eq!(net.cores[2].catch_up_pending(), 1);
    net.tick(1);
    net.run();
    assert!(
        !net.cores[2].catch_ups()[0].started,
        "node1 still reports generation 0"
    );
    assert!(
        net.stores[2].is_empty(),
        "nothing fetched before every node runs step 1"
    );
    net.deploy(1, &steps[0]);
    net.tick(1_000);
    net.run();
    let status = net.cores[2].catch_ups()[0];
    assert!(status.started);
    assert_eq!(net.cores[2].catch_up_pending(), 0, "{status:?}");
    assert_eq!(net.stores[2].len(), 10, "every point, over pages of 3");
}

#[test]
fn a_caught_up_copy_is_reported_and_survives_a_restart() {
    let (a, steps) = move_one_copy();
    let mut net = Net::new(&a, Options::default());
    net.cores[0].write(vec![sample(0, 1)], 1, 0).unwrap();
    net.run();
    for n in 0..3 {
        net.deploy(n, &steps[0]);
    }
    net.tick(1);
    let mut caught_up = false;
    while net.step() {}
    for _ in 0..3 {
        net.tick(net.now + 1_000);
        while let Some(output) = net.cores[2].poll() {
            caught_up |= matches!(output, Output::CaughtUp { shard: 0 });
            if let Output::Send(to, message) = output {
                let to = net.index(&to.node);
                net.queue.push_back(crate::util::InFlight {
                    from: 2,
                    to,
                    message,
                });
            }
        }
        net.run();
    }
    assert_eq!(net.cores[2].catch_up_pending(), 0);
    let saved = net.cores[2].saved();
    let restored = rusts_cluster_protocol::Core::<crate::util::Sample, u32>::restore(
        &saved,
        "node2",
        Options::default(),
    )
    .unwrap()
    .start();
    assert_eq!(
        restored.catch_up_pending(),
        0,
        "a restart does not fetch again"
    );
    assert_eq!(restored.generation(), steps[0].generation);
    let _ = caught_up;
}

#[test]
fn only_the_answer_to_the_page_asked_last_counts() {
    // Pages of 3 over 10 points. The first page's answer, delivered again
    // once the second page is asked, and marked the last page, would end
    // the catch-up with 3 points; it is late. So is an answer to a request
    // sent under an earlier generation.
    use rusts_cluster_protocol::{Delivery, Message};
    let (mut net, steps) = ten_points_to_catch_up();
    for n in 0..3 {
        net.deploy(n, &steps[0]);
    }
    net.tick(1);
    // Deliver until a first page is on its way to node2.
    let first = loop {
        let at = net.queue.iter().position(|m| {
            m.to == 2 && matches!(&m.message, Message::CatchUpAnswer(a) if !a.points.is_empty())
        });
        if let Some(at) = at {
            break net.queue.remove(at).unwrap();
        }
        assert!(net.step(), "a catch-up page was sent");
    };
    let Message::CatchUpAnswer(page) = first.message.clone() else {
        unreachable!()
    };
    let mut stale = page.clone();
    stale.done = true;
    let mut earlier_generation = page.clone();
    let now = net.now;
    assert_eq!(net.cores[2].receive(first.message, now), Delivery::Counted);
    // The second page is asked now: the first page's answer again is late.
    assert_eq!(
        net.cores[2].receive(Message::CatchUpAnswer(stale), now),
        Delivery::Late
    );
    // An answer with the current cursor, to a request of generation 0,
    // before the copy joined, is late too.
    earlier_generation.after = Some(rusts_cluster_protocol::PointId::of(
        page.points.last().unwrap(),
    ));
    earlier_generation.asked = 0;
    earlier_generation.done = true;
    assert_eq!(
        net.cores[2].receive(Message::CatchUpAnswer(earlier_generation), now),
        Delivery::Late
    );
    net.tick(net.now + 1_000);
    net.run();
    assert_eq!(net.cores[2].catch_up_pending(), 0);
    assert_eq!(
        net.stores[2].len(),
        10,
        "every point, not the first page's 3"
    );
}
