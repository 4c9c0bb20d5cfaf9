//! The stateright model of a transition: nodes that move through the
//! procedure's generations in any order, coordinators that write and read
//! with the layer's own rules, catch-up, a network that loses, duplicates
//! and reorders, and at most one crash.
//!
//! Split by concern: the state ([`state`]), the network and its messages
//! ([`network`]), each generation's rules prepared from the layer's
//! routers ([`generation`]), how nodes and coordinators apply the engine's
//! rules ([`rules`]), the actions a state enables ([`actions`]), each
//! action's effect ([`transition`]), the properties checked
//! ([`properties`]) and the counterexample printer ([`explain`]). This file
//! holds the model itself and wires them into `stateright::Model`.

use std::fmt;

use stateright::{Model, Property};

use crate::scenario::{Procedure, Scenario, MAX_NODES};

use rusts_cluster_protocol::Header;

use self::generation::Step;
pub use self::{
    actions::{Action, ALL_SOURCES},
    network::{Answer, Msg, Network},
    state::{ReadState, State, WriteState, MAX_WRITES},
};

mod actions;
mod explain;
mod generation;
mod network;
mod properties;
mod rules;
mod state;
mod transition;

/// What the model explores beyond the scenario and the procedure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// How many writes clients issue (at most [`MAX_WRITES`]).
    pub writes: usize,
    /// Whether one node may stop (keeping its disk) and later restart.
    pub crash: bool,
    /// How the network is modelled.
    pub network: Network,
    /// Whether a coordinator that moves generation fails its pending
    /// writes, as the protocol core's `commit` does (generation fencing).
    /// Off, they stay pending and are decided under their own step: the
    /// variant the check must show loses a write.
    pub fencing: bool,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            writes: 2,
            crash: false,
            network: Network::Reduced,
            fencing: true,
        }
    }
}

/// How peers on two plans made from one A tell their configs apart
/// ([`TransitionModel::two_plans`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// As the protocol core does (decision 0039): a header whose config
    /// identity is not of the receiver's lineage is refused
    /// (`Refusal::Identity`), never counted as an acknowledgement or a
    /// read answer, and not counted when a catch-up waits for every node
    /// to report its generation.
    Checked,
    /// Peers compare generations only, as before decision 0039: a header
    /// is taken as the receiver's own plan's at its generation.
    GenerationsOnly,
    /// Requests are refused as under [`Identity::Checked`], but a
    /// catch-up counts every node's report, conflicting or not: half of
    /// decision 0039, to show the other half is needed.
    RequestsOnly,
}

/// The model of one scenario under one procedure.
pub struct TransitionModel {
    scenario: Scenario,
    procedure: Procedure,
    bounds: Bounds,
    node_ids: Vec<String>,
    steps: Vec<Step>,
    /// For each node that catches up, the sources it merges (bits); 0 for
    /// the others.
    catch_up_sources: [u8; MAX_NODES],
    catch_up_start: usize,
    catch_up_gate: Option<usize>,
    /// Per node, the last step that lists it: the last step for every
    /// node but one B removes (decision 0035), which the operator stops
    /// once it would lag two steps behind.
    caps: [u8; MAX_NODES],
    /// How many steps each plan has: the model's steps are the plans'
    /// steps one after another, and a node's step is an index into them.
    plan_len: usize,
    /// Per node, the plan it is deployed with (0 but for
    /// [`TransitionModel::two_plans`]).
    plan_of: [u8; MAX_NODES],
    /// The second plan's scenario name, in a model of two plans.
    second: Option<String>,
    /// How peers tell plans apart.
    identity: Identity,
    /// B's copies (of the first plan), and what B's write rule requires.
    final_copies: u8,
    final_required: usize,
}

impl fmt::Debug for TransitionModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransitionModel")
            .field("scenario", &self.scenario.name())
            .field("procedure", &self.procedure.name)
            .field("bounds", &self.bounds)
            .finish_non_exhaustive()
    }
}

/// The bit of node (or write) `index` in a `u8` set.
fn bit(index: usize) -> u8 {
    1 << index
}

/// How many members a `u8` set has.
fn ones(bits: u8) -> usize {
    bits.count_ones() as usize
}

impl TransitionModel {
    /// Prepares the model: runs every node's protocol core through the
    /// procedure's generations and takes from each step's cores their
    /// admission of each sender step, each coordinator's write decisions,
    /// and the catch-up's sources; the routers give the `Quorum` read plan.
    ///
    /// # Panics
    ///
    /// When a step's config is invalid, or a bound is out of range.
    pub fn new(scenario: &Scenario, procedure: &Procedure, bounds: Bounds) -> Self {
        Self::build(
            scenario,
            &[procedure],
            [0; MAX_NODES],
            Identity::Checked,
            bounds,
        )
    }

    /// Two plans made from the same A (decision 0039), each a scenario
    /// and its procedure: the nodes `second` are deployed with
    /// `plans[1]`'s steps, the others with `plans[0]`'s. The plans number their steps alike, so a node on one plan's step
    /// meets peers on the other's at its generation, or one away. With
    /// [`Identity::Checked`] each core compares their headers' config
    /// identity, as it does; with [`Identity::GenerationsOnly`] a header
    /// is taken as if its sender ran the receiver's own plan, as peers
    /// that compare generations only would take it;
    /// [`Identity::RequestsOnly`] checks requests but not the catch-up's
    /// reports. The final property is checked on `plans[0]`'s final
    /// copies.
    ///
    /// # Panics
    ///
    /// When the plans do not start from the same A, have different
    /// lengths or catch-up windows, or as [`TransitionModel::new`].
    pub fn two_plans(
        plans: [(&Scenario, &Procedure); 2],
        second: &[usize],
        identity: Identity,
        bounds: Bounds,
    ) -> Self {
        let [(scenario, first), (other, then)] = plans;
        assert_eq!(scenario.nodes, other.nodes, "one cluster");
        let mut plan_of = [0; MAX_NODES];
        for &n in second {
            plan_of[n] = 1;
        }
        let mut model = Self::build(scenario, &[first, then], plan_of, identity, bounds);
        model.second = Some(other.name());
        model
    }

    fn build(
        scenario: &Scenario,
        plans: &[&Procedure],
        plan_of: [u8; MAX_NODES],
        identity: Identity,
        bounds: Bounds,
    ) -> Self {
        assert!(bounds.writes <= MAX_WRITES);
        let first = plans[0];
        let plan_len = first.steps.len();
        assert!(plans.iter().all(|p| p.steps.len() == plan_len
            && p.steps[0] == first.steps[0]
            && p.catch_up.start_step == first.catch_up.start_step
            && p.catch_up.gate_step == first.catch_up.gate_step));
        assert!(plan_len * plans.len() <= u8::MAX as usize);
        let node_ids: Vec<String> = (0..scenario.nodes).map(Scenario::node_id).collect();
        let mut steps: Vec<Step> = Vec::new();
        for plan in plans {
            // A sender on each of the model's steps; under generations
            // only, as if it ran this plan.
            let senders: Vec<Header> = plans
                .iter()
                .flat_map(|other| {
                    let from = match identity {
                        Identity::Checked | Identity::RequestsOnly => *other,
                        Identity::GenerationsOnly => *plan,
                    };
                    (0..plan_len).map(|t| generation::sender(&from.steps, t, &node_ids[0]))
                })
                .collect();
            steps.extend(
                (0..plan_len)
                    .map(|s| Step::prepare(&plan.steps, s, &node_ids, plan.checks, &senders)),
            );
        }
        let last = &steps[plan_len - 1];
        let plan_caps: Vec<_> = plans.iter().map(|p| caps(p, &node_ids)).collect();
        let plan_sources: Vec<_> = plans
            .iter()
            .map(|p| catch_up_sources(p, &node_ids))
            .collect();
        let caps: [u8; MAX_NODES] = std::array::from_fn(|n| plan_caps[plan_of[n] as usize][n]);
        let sources: [u8; MAX_NODES] =
            std::array::from_fn(|n| plan_sources[plan_of[n] as usize][n]);
        // The operator stops the nodes that would lag two steps: the model
        // has one `down` slot, for at most one of them and no crash.
        let stopped = caps[..node_ids.len()]
            .iter()
            .filter(|&&cap| cap as usize + 2 < plan_len)
            .count();
        assert!(
            stopped == 0 || (stopped == 1 && !bounds.crash),
            "one node down at a time: at most one removed node stopped, and then no crash"
        );
        let final_copies = last.holds;
        let final_required = last.required_acks;
        TransitionModel {
            scenario: scenario.clone(),
            procedure: first.clone(),
            second: None,
            identity,
            bounds,
            final_copies,
            final_required,
            catch_up_sources: sources,
            catch_up_start: first.catch_up.start_step,
            catch_up_gate: first.catch_up.gate_step,
            caps,
            plan_len,
            plan_of,
            node_ids,
            steps,
        }
    }

    /// The scenario checked.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The procedure checked.
    pub fn procedure(&self) -> &Procedure {
        &self.procedure
    }

    /// The bounds of the check.
    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// The scenario's description and the procedure's name.
    pub fn describe(&self) -> String {
        let second = match &self.second {
            None => String::new(),
            Some(name) => {
                let nodes: Vec<&str> = (0..self.nodes())
                    .filter(|&n| self.plan_of[n] == 1)
                    .map(|n| self.node_ids[n].as_str())
                    .collect();
                let compare = match self.identity {
                    Identity::Checked => "identity checked",
                    Identity::GenerationsOnly => "generations only",
                    Identity::RequestsOnly => "identity checked, not by the catch-up",
                };
                format!("; {} on {name}; {compare}", nodes.join(","))
            }
        };
        format!("{}, {}{second}", self.scenario.name(), self.procedure.name)
    }

    /// Whether `other` is the same transition system: the same bounds, node
    /// count and catch-up, and the same rules taken from the layer for
    /// every generation (copies, generation checks, write decisions, read
    /// plans, final copies). Two such models differ at most in names, so
    /// they reach the same states and break the same properties, and
    /// checking one checks both: factors 1 and 2 decide alike under
    /// `Quorum` and `Synchronous` (`required_acks` is 1 and 2 under each).
    pub fn behaves_like(&self, other: &TransitionModel) -> bool {
        self.bounds == other.bounds
            && self.nodes() == other.nodes()
            && self.steps == other.steps
            && self.catch_up_sources == other.catch_up_sources
            && self.catch_up_start == other.catch_up_start
            && self.catch_up_gate == other.catch_up_gate
            && self.caps == other.caps
            && self.plan_len == other.plan_len
            && self.plan_of == other.plan_of
            && self.identity == other.identity
            && self.final_copies == other.final_copies
            && self.final_required == other.final_required
    }

    /// Whether every node runs the last step that lists it: the plan is
    /// complete.
    pub fn plan_complete(&self, state: &State) -> bool {
        (0..self.nodes()).all(|n| self.done(state, n))
    }

    /// Whether node `n` runs the last step that lists it: it moves no
    /// further, and the operator deploys the next step without it.
    fn done(&self, state: &State, n: usize) -> bool {
        self.position(state.steps[n]) >= self.caps[n]
    }

    /// Where model step `step` is in its plan: 0 for A.
    fn position(&self, step: u8) -> u8 {
        step % self.plan_len as u8
    }

    /// Whether `step` is a step of the second plan after A.
    fn on_second_plan(&self, step: u8) -> bool {
        step as usize > self.plan_len
    }

    /// The writes acknowledged in `state`, as bits.
    pub fn acked(state: &State) -> u8 {
        state
            .writes
            .iter()
            .enumerate()
            .filter(|(_, w)| matches!(w, WriteState::Acked))
            .fold(0, |bits, (i, _)| bits | bit(i))
    }

    fn nodes(&self) -> usize {
        self.node_ids.len()
    }

    /// The last step's position in a plan.
    fn last_step(&self) -> u8 {
        (self.plan_len - 1) as u8
    }

    /// The lowest step any node runs that is not done: the step the
    /// operator has deployed to every node that a later step lists (the
    /// last step when every node is done).
    fn min_step(&self, state: &State) -> u8 {
        (0..self.nodes())
            .filter(|&n| !self.done(state, n))
            .map(|n| self.position(state.steps[n]))
            .min()
            .unwrap_or_else(|| self.last_step())
    }

    /// The nodes the operator stops when a node moves to `step`: those
    /// up whose last listed step is two or more behind it. A node on the
    /// step before is still served (decision 0019); one two behind is
    /// refused by its peers, and the runbook stops it before that.
    fn stopped_at(&self, state: &State, step: u8) -> Vec<usize> {
        (0..self.nodes())
            .filter(|&n| state.is_up(n) && self.caps[n] as usize + 2 <= step as usize)
            .collect()
    }

    fn catch_up_done(&self, state: &State) -> bool {
        (0..self.nodes()).all(|n| state.merged[n] == self.catch_up_sources[n])
    }
}

/// For each node that catches up, the other nodes whose copies it merges
/// (bits): the sources of the catch-up task of shard 0 that the node's
/// protocol core runs at the catch-up's first step. A procedure whose
/// configs give no core a catch-up (B deployed directly, copied by hand
/// under A) takes them from its schedule, the planner's catch-up. A stable
/// copy among its own sources already has its own data, so it is left
/// out: merging it would change nothing but the record of what was merged.
fn catch_up_sources(procedure: &Procedure, node_ids: &[String]) -> [u8; MAX_NODES] {
    let index = |id: &str| {
        node_ids
            .iter()
            .position(|n| n == id)
            .unwrap_or_else(|| panic!("unknown node {id}"))
    };
    let history = &procedure.steps[..=procedure.catch_up.start_step];
    let mut from_cores: Vec<(usize, Vec<usize>)> = Vec::new();
    let start = history.last().expect("the catch-up's first step");
    // A node that step does not list runs no catch-up.
    let listed = |id: &String| start.nodes.iter().any(|n| n.id == *id);
    for (target, id) in node_ids.iter().enumerate().filter(|(_, id)| listed(id)) {
        let core = generation::core_after(history, id, procedure.checks);
        for task in core.catch_up_tasks().iter().filter(|t| t.shard == 0) {
            from_cores.push((
                target,
                task.sources.iter().map(|s| index(&s.node)).collect(),
            ));
        }
    }
    let copies = if from_cores.is_empty() {
        procedure
            .catch_up
            .copies
            .iter()
            .filter(|c| c.shard == 0)
            .map(|c| (index(&c.node), c.sources.iter().map(|s| index(s)).collect()))
            .collect()
    } else {
        from_cores
    };
    let mut sources = [0; MAX_NODES];
    for (target, from) in copies {
        sources[target] = from
            .into_iter()
            .filter(|&s| s != target)
            .fold(0, |bits, s| bits | bit(s));
    }
    sources
}

/// Per node, the last step of `procedure` that lists it. A node is listed
/// from A on, in consecutive steps: a removed node leaves and never comes
/// back.
///
/// # Panics
///
/// When a node is listed again after a step that leaves it out, or not in
/// A.
fn caps(procedure: &Procedure, node_ids: &[String]) -> [u8; MAX_NODES] {
    let mut caps = [0; MAX_NODES];
    for (n, id) in node_ids.iter().enumerate() {
        let listed: Vec<bool> = procedure
            .steps
            .iter()
            .map(|config| config.nodes.iter().any(|node| node.id == *id))
            .collect();
        let count = listed.iter().take_while(|&&l| l).count();
        assert!(
            count > 0 && listed[count..].iter().all(|&l| !l),
            "node {id}: listed from A on, in consecutive steps"
        );
        caps[n] = (count - 1) as u8;
    }
    caps
}

impl Model for TransitionModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let mut state = State::initial();
        for n in 0..self.nodes() {
            state.steps[n] = self.plan_of[n] * self.plan_len as u8;
        }
        vec![state]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        self.enabled_actions(state, actions);
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        self.successor(last, action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties::all(self.bounds)
    }
}

#[cfg(test)]
mod tests {
    use rusts_cluster_replication::ReplicationMode;

    use super::*;

    fn staged(mode: ReplicationMode, rf: usize, from: &[usize], to: &[usize]) -> TransitionModel {
        let scenario = Scenario::new(mode, rf, 4, from, to);
        TransitionModel::new(&scenario, &Procedure::staged(&scenario), Bounds::default())
    }

    #[test]
    fn a_leaving_copy_kept_on_the_next_step_takes_the_writes_of_the_step_before() {
        // Issue 20's finding 5: at factor 2 a node already on step s + 1
        // answered "not held" for its leaving copy, which still held the
        // data, and joint writes of step-s coordinators failed. Its core
        // keeps the copy for senders one step behind: it stores their
        // writes, and still refuses its own step's.
        use network::Answer;
        for (rf, from, to) in [(2, &[0, 1][..], &[2, 3][..]), (3, &[0, 1, 2], &[1, 2, 3])] {
            let model = staged(ReplicationMode::Quorum, rf, from, to);
            let mut leaving = 0;
            for s in 0..model.steps.len() - 1 {
                let (now, next) = (&model.steps[s], &model.steps[s + 1]);
                for n in 0..model.nodes() {
                    if now.holds & bit(n) == 0 || next.holds & bit(n) != 0 {
                        continue;
                    }
                    leaving += 1;
                    assert_ne!(next.keeps & bit(n), 0, "rf {rf}: node {n} keeps its copy");
                    assert_eq!(
                        next.write_answers[n][s],
                        Answer::Stored,
                        "rf {rf}: node {n} on step {} stores a write of step {s}",
                        s + 1
                    );
                    assert_eq!(
                        next.write_answers[n][s + 1],
                        Answer::NotHeld,
                        "rf {rf}: node {n} does not hold the copy in its own step"
                    );
                }
            }
            assert!(leaving > 0, "rf {rf}: the move has a leaving copy");
        }
    }

    #[test]
    fn behaves_like_tells_models_apart_only_where_a_rule_differs() {
        use ReplicationMode::{Quorum, Synchronous};
        // Factor 2: both modes require both copies, so the tests search one.
        let quorum = staged(Quorum, 2, &[0, 1], &[2, 3]);
        assert!(quorum.behaves_like(&staged(Synchronous, 2, &[0, 1], &[2, 3])));
        // Factor 3: Quorum acknowledges with 2 copies, Synchronous with 3.
        let quorum = staged(Quorum, 3, &[0, 1, 2], &[0, 1, 3]);
        assert!(!quorum.behaves_like(&staged(Synchronous, 3, &[0, 1, 2], &[0, 1, 3])));
        // Another move, another procedure, other bounds: other models.
        assert!(!quorum.behaves_like(&staged(Quorum, 3, &[0, 1, 2, 3], &[0, 1, 2])));
        let scenario = quorum.scenario().clone();
        let one_step =
            TransitionModel::new(&scenario, &Procedure::one_step(&scenario), quorum.bounds());
        assert!(!quorum.behaves_like(&one_step));
        let crash = Bounds {
            crash: true,
            ..quorum.bounds()
        };
        let crashing = TransitionModel::new(&scenario, quorum.procedure(), crash);
        assert!(!quorum.behaves_like(&crashing));
        assert!(quorum.behaves_like(&TransitionModel::new(
            &scenario,
            quorum.procedure(),
            quorum.bounds()
        )));
    }
}
