//! The messages as a transport sees them: plain serde types that
//! round-trip, with the points of a batch shared by every copy's request.

use rusts_cluster_config::strategies::round_robin_cluster;
use rusts_cluster_protocol::{Message, Options, WriteRequest};

use crate::util::{sample, Net, Sample};

#[test]
fn a_write_request_round_trips_through_json() {
    let config = round_robin_cluster(4, 3, 3);
    let mut net = Net::new(&config, Options::default());
    net.cores[0]
        .write((0..10).map(|s| sample(s, 1)).collect(), 0, 0)
        .unwrap();
    net.pump();
    let m = net.queue.pop_front().unwrap();
    let Message::Write(request) = m.message else {
        panic!()
    };
    let json = serde_json::to_string(&Message::Write(request.clone())).unwrap();
    // A core that has run one config knows no previous one, and says so
    // by leaving `previous` out.
    let start = format!(
        r#"{{"type":"write","header":{{"node":"node0","generation":0,"identity":"{}"}},"write":0,"shards":[{{"shard":0,"points":["#,
        config.digest()
    );
    assert!(json.starts_with(&start), "{json}");
    let Message::Write(back) = serde_json::from_str::<Message<Sample>>(&json).unwrap() else {
        panic!()
    };
    let shards = |r: &WriteRequest<Sample>| -> Vec<(u32, Vec<Sample>)> {
        r.shards()
            .map(|s| (s.shard, s.points().cloned().collect()))
            .collect()
    };
    assert_eq!(shards(&back), shards(&request));
    assert_eq!(back.point_count(), 10);
}

#[test]
fn unknown_fields_in_a_request_are_an_error() {
    let json = r#"{"header":{"node":"a","generation":0,"identity":"fnv1a64:0000000000000001"},"write":0,"shards":[],"extra":1}"#;
    let error = serde_json::from_str::<WriteRequest<Sample>>(json).unwrap_err();
    assert!(error.to_string().contains("extra"), "{error}");
}

#[test]
fn a_read_request_carries_its_filter_and_a_peers_series_are_put_in_order() {
    use rusts_cluster_protocol::{KeyFilter, ReadRequest};
    use rusts_cluster_routing::Query;
    use rusts_cluster_sharding::ShardKeyRef;
    let config = round_robin_cluster(4, 3, 3);
    let mut net = Net::new(&config, Options::default());
    let query = Query::new()
        .measurement("cpu")
        .series(&[3, 1])
        .time_range(0..10);
    net.cores[0].read(&query, 0, 0).unwrap();
    net.pump();
    let Message::Read(request) = net.queue.pop_front().unwrap().message else {
        panic!("a read request")
    };
    let json = serde_json::to_string(&request.filter).unwrap();
    assert_eq!(
        json,
        r#"{"measurement":"cpu","series":[1,3],"time_range":{"start":0,"end":10}}"#
    );
    // A peer's filter whose series are out of order or repeated still
    // matches by the rule: they are put in order when read.
    let filter: KeyFilter =
        serde_json::from_str(r#"{"series":[9,2,9,5],"time_range":{"start":0,"end":10}}"#).unwrap();
    assert_eq!(filter.series(), Some(&[2, 5, 9][..]));
    assert!(filter.matches(ShardKeyRef::new("any", 2, 1)));
    assert!(!filter.matches(ShardKeyRef::new("any", 3, 1)));
    let round: ReadRequest =
        serde_json::from_str(&serde_json::to_string(&request).unwrap()).unwrap();
    assert_eq!(round, request);
}
