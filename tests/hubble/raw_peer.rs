//! A peer that speaks the observer API's framing but sends whatever bytes it
//! is given as `GetFlows` messages: the malformed ones no real server would
//! produce, to show the client survives them.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, Bytes};
use prost::Message;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::NamedService;
use tonic::{Request, Response, Status};

use tighten::hubble::proto::observer::{GetFlowsRequest, ServerStatusRequest, ServerStatusResponse};

/// Serves `messages` to every `GetFlows` call; returns the address.
pub async fn serve(messages: Vec<Vec<u8>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr").to_string();
    let peer = RawObserver(Arc::new(messages.into_iter().map(Bytes::from).collect()));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(peer)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    address
}

#[derive(Clone)]
struct RawObserver(Arc<Vec<Bytes>>);

impl NamedService for RawObserver {
    const NAME: &'static str = "observer.Observer";
}

impl<B> Service<http::Request<B>> for RawObserver
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let messages = Arc::clone(&self.0);
        Box::pin(async move {
            let response = match request.uri().path() {
                "/observer.Observer/ServerStatus" => {
                    tonic::server::Grpc::new(RawCodec::<ServerStatusRequest>::default())
                        .unary(Status_, request)
                        .await
                }
                "/observer.Observer/GetFlows" => {
                    tonic::server::Grpc::new(RawCodec::<GetFlowsRequest>::default())
                        .server_streaming(Flows(messages), request)
                        .await
                }
                _ => Status::unimplemented("not here").into_http(),
            };
            Ok(response)
        })
    }
}

/// Answers ServerStatus with one connected node.
#[allow(non_camel_case_types)]
struct Status_;

impl Service<Request<ServerStatusRequest>> for Status_ {
    type Response = Response<Bytes>;
    type Error = Status;
    type Future = std::future::Ready<Result<Response<Bytes>, Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<ServerStatusRequest>) -> Self::Future {
        let status = ServerStatusResponse {
            num_connected_nodes: Some(1),
            ..ServerStatusResponse::default()
        };
        std::future::ready(Ok(Response::new(Bytes::from(status.encode_to_vec()))))
    }
}

struct Flows(Arc<Vec<Bytes>>);

type FlowStream = tokio_stream::Iter<std::vec::IntoIter<Result<Bytes, Status>>>;

impl Service<Request<GetFlowsRequest>> for Flows {
    type Response = Response<std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<Bytes, Status>> + Send>>>;
    type Error = Status;
    type Future = std::future::Ready<Result<Self::Response, Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<GetFlowsRequest>) -> Self::Future {
        let sent: FlowStream = tokio_stream::iter(self.0.iter().cloned().map(Ok).collect::<Vec<_>>());
        // Then stay open, as a following stream does.
        let stream = tokio_stream::StreamExt::chain(sent, tokio_stream::pending());
        std::future::ready(Ok(Response::new(Box::pin(stream))))
    }
}

/// Decodes requests with prost; sends responses as the raw bytes given.
struct RawCodec<Req>(std::marker::PhantomData<Req>);

impl<Req> Default for RawCodec<Req> {
    fn default() -> Self {
        RawCodec(std::marker::PhantomData)
    }
}

impl<Req: Message + Default + Send + 'static> Codec for RawCodec<Req> {
    type Encode = Bytes;
    type Decode = Req;
    type Encoder = RawEncoder;
    type Decoder = RequestDecoder<Req>;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RequestDecoder<Req> {
        RequestDecoder(std::marker::PhantomData)
    }
}

struct RawEncoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

struct RequestDecoder<Req>(std::marker::PhantomData<Req>);

impl<Req: Message + Default> Decoder for RequestDecoder<Req> {
    type Item = Req;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Req>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        Req::decode(bytes)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}
