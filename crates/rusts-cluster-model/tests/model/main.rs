//! The model crate's tests, in one binary as ripgrep lays its tests out:
//! topic modules and a shared `util`, linked once.
//!
//! - `transitions`: the bounded model check of the transition procedure
//!   (issue 13): every required transition passes under the three steps
//!   of `plan_transition`.
//! - `one_step`: deploying config B directly fails the same check.
//! - `way_back`: the way back from step 1, and from step 2 through step 1
//!   again (`plan_way_back`), pass the same check; step 2 straight back to
//!   A fails it.
//! - `removed_node`: a node B drops that holds no copy (decision 0035)
//!   passes under the three steps, which list it in steps 1 and 2; the
//!   plan before, which listed it in none, loses a write.
//! - `two_plans`: two plans from one A, nodes deployed with either
//!   (decision 0039): compared by generation only they lose a write;
//!   with the core's identity checks they pass.
//! - `fencing`: without generation fencing the three steps lose a write.
//! - `networks`: the explicit-message network breaks the same properties
//!   as the reduced one the checks use.
//! - `simulation`: the seeded randomized simulation at scale.
//!
//! State counts, figures and times are printed (`--nocapture`) and
//! recorded in docs/reliability.md, "Proof of the transition protocol".
//!
//! ```sh
//! cargo test -p rusts-cluster-model --test model -- --nocapture
//! cargo test -p rusts-cluster-model --test model -- --ignored --nocapture   # the larger bounds and the long run
//! cargo test -p rusts-cluster-model --test model -- simulation:: --nocapture  # one topic
//! ```

mod fencing;
mod networks;
mod one_step;
mod refusals;
mod removed_node;
mod simulation;
mod transitions;
mod two_plans;
mod util;
mod way_back;
