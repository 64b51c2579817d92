//! tighten: a terminal cockpit for rolling Cilium network policies out namespace by
//! namespace, and for pulling the brake fast when something breaks.
//!
//! Data flows one way (The Elm Architecture): terminal keys, cluster watch events,
//! flows and timers become [`app::Msg`]s; [`app::update()`](fn@app::update) is the only place state
//! changes and returns [`app::Effect`]s; the [`runtime`] runs effects as async tasks
//! that answer with more messages; [`ui::render`] draws the state.
//!
//! The domain rooms ([`rollout`], [`policy`], [`flows`], [`gate`]) know nothing about
//! the terminal; [`ui`] knows nothing about the cluster client.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod app;
pub mod backoff;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod declared;
pub mod errors;
pub mod flows;
pub mod gate;
pub mod hubble;
pub mod ledger;
pub mod policy;
pub mod prometheus;
pub mod repo;
pub mod rollout;
pub mod runtime;
pub mod shared;
pub mod ui;
