//! A Hubble observer over a ring buffer, as a Hubble agent or Relay keeps one:
//! feeders push flows in (a recording being replayed, the demo's traffic), and
//! every client gets the history its request asks for, then, with `follow`,
//! each new flow as it is pushed.
//!
//! A client too slow to keep up is not allowed to hold the feeders back: it
//! misses events and is told so with a `lost_events` response, as Hubble does.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::flows::Flow;

use super::convert::to_wire;
use super::filter::allowed;
use super::proto::flow::{LostEvent, LostEventSource};
use super::proto::observer::observer_server::{Observer, ObserverServer};
use super::proto::observer::{
    GetFlowsRequest, GetFlowsResponse, ServerStatusRequest, ServerStatusResponse, get_flows_response,
};

/// How many pushed flows a following client may fall behind before it misses some.
const FOLLOW_BACKLOG: usize = 16_384;

/// The flows a server holds and the channel new ones are announced on.
#[derive(Clone)]
pub struct FlowRing {
    inner: Arc<Mutex<RingState>>,
    live: broadcast::Sender<Arc<Flow>>,
    started: Instant,
}

struct RingState {
    flows: VecDeque<Arc<Flow>>,
    capacity: usize,
    seen: u64,
    nodes: BTreeSet<String>,
}

impl FlowRing {
    /// A ring that remembers the newest `capacity` flows.
    pub fn new(capacity: usize) -> FlowRing {
        FlowRing {
            inner: Arc::new(Mutex::new(RingState {
                flows: VecDeque::with_capacity(capacity.min(65_536)),
                capacity: capacity.max(1),
                seen: 0,
                nodes: BTreeSet::new(),
            })),
            live: broadcast::channel(FOLLOW_BACKLOG).0,
            started: Instant::now(),
        }
    }

    /// Adds flows (in time order) and announces them to following clients.
    pub fn push(&self, flows: impl IntoIterator<Item = Flow>) {
        let mut state = self.lock();
        for flow in flows {
            let flow = Arc::new(flow);
            if !flow.node.is_empty() && !state.nodes.contains(&flow.node) {
                state.nodes.insert(flow.node.clone());
            }
            if state.flows.len() == state.capacity {
                state.flows.pop_front();
            }
            state.flows.push_back(Arc::clone(&flow));
            state.seen += 1;
            // Nobody following is not an error.
            let _ = self.live.send(flow);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RingState> {
        // A feeder that panicked mid-push leaves a consistent ring (each push
        // step is whole), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The server, answering gRPC health checks for `hubble.server.Observer`
    /// as well (the hubble CLI asks that first), until the task is dropped.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        tls: Option<tonic::transport::ServerTlsConfig>,
    ) -> Result<(), tonic::transport::Error> {
        let (reporter, health) = tonic_health::server::health_reporter();
        reporter
            .set_service_status("hubble.server.Observer", tonic_health::ServingStatus::Serving)
            .await;
        reporter.set_serving::<ObserverServer<FlowRing>>().await;
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = tls {
            builder = builder.tls_config(tls)?;
        }
        builder
            .add_service(health)
            .add_service(ObserverServer::new(self).max_encoding_message_size(16 << 20))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
    }
}

fn response(flow: &Flow) -> GetFlowsResponse {
    GetFlowsResponse {
        node_name: flow.node.clone(),
        time: Some(prost_types::Timestamp {
            seconds: flow.time.as_second(),
            nanos: flow.time.subsec_nanosecond(),
        }),
        response_types: Some(get_flows_response::ResponseTypes::Flow(to_wire(flow))),
    }
}

fn lost(count: u64) -> GetFlowsResponse {
    GetFlowsResponse {
        response_types: Some(get_flows_response::ResponseTypes::LostEvents(LostEvent {
            source: LostEventSource::ObserverEventsQueue as i32,
            num_events_lost: count,
            cpu: None,
        })),
        ..GetFlowsResponse::default()
    }
}

fn time(t: Option<&prost_types::Timestamp>) -> Option<Timestamp> {
    t.and_then(|t| Timestamp::new(t.seconds, t.nanos).ok())
}

/// What one request selects, checked per flow.
struct Selection {
    request: GetFlowsRequest,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
}

impl Selection {
    fn new(request: GetFlowsRequest) -> Selection {
        Selection {
            since: time(request.since.as_ref()),
            until: time(request.until.as_ref()),
            request,
        }
    }

    fn wants(&self, flow: &Flow) -> bool {
        self.since.is_none_or(|s| flow.time >= s)
            && self.until.is_none_or(|u| flow.time <= u)
            && allowed(flow, &self.request.whitelist, &self.request.blacklist)
    }

    /// The history to send: all matching flows, or the first or last `number`.
    fn history(&self, flows: &VecDeque<Arc<Flow>>) -> Vec<Arc<Flow>> {
        let mut matching: Vec<Arc<Flow>> = flows.iter().filter(|f| self.wants(f)).cloned().collect();
        if self.request.number > 0 {
            let n = usize::try_from(self.request.number)
                .unwrap_or(usize::MAX)
                .min(matching.len());
            matching = if self.request.first {
                matching[..n].to_vec()
            } else {
                matching.split_off(matching.len() - n)
            };
        }
        matching
    }
}

#[tonic::async_trait]
impl Observer for FlowRing {
    type GetFlowsStream = ReceiverStream<Result<GetFlowsResponse, Status>>;

    async fn get_flows(&self, request: Request<GetFlowsRequest>) -> Result<Response<Self::GetFlowsStream>, Status> {
        let selection = Selection::new(request.into_inner());
        if selection.request.first && selection.request.follow {
            return Err(Status::invalid_argument("first cannot be combined with follow"));
        }
        // Subscribe under the lock that reads the history, so no flow falls
        // between the two.
        let (history, mut live) = {
            let state = self.lock();
            (selection.history(&state.flows), self.live.subscribe())
        };
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            for flow in &history {
                if tx.send(Ok(response(flow))).await.is_err() {
                    return;
                }
            }
            if !selection.request.follow {
                return;
            }
            loop {
                let message = match live.recv().await {
                    Ok(flow) if selection.until.is_some_and(|u| flow.time > u) => return,
                    Ok(flow) if selection.wants(&flow) => response(&flow),
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(missed)) => lost(missed),
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if tx.send(Ok(message)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn server_status(&self, _: Request<ServerStatusRequest>) -> Result<Response<ServerStatusResponse>, Status> {
        let state = self.lock();
        Ok(Response::new(ServerStatusResponse {
            num_flows: state.flows.len() as u64,
            max_flows: state.capacity as u64,
            seen_flows: state.seen,
            uptime_ns: u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            num_connected_nodes: Some(u32::try_from(state.nodes.len()).unwrap_or(u32::MAX)),
            num_unavailable_nodes: Some(0),
            unavailable_nodes: Vec::new(),
            version: format!("tighten {}", env!("CARGO_PKG_VERSION")),
        }))
    }
}
