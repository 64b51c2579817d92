//! A gRPC codec that hands the client each streamed message as raw bytes.
//!
//! tonic's generated client decodes inside the stream, and a message that does
//! not decode ends the stream. A Hubble peer that sends one bad message should
//! cost that message, not the connection: the client decodes each one itself,
//! counts the failures and reads on.

use bytes::{Buf, Bytes};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Encodes requests with prost; yields responses undecoded.
pub struct RawResponses<Req>(std::marker::PhantomData<Req>);

impl<Req> Default for RawResponses<Req> {
    fn default() -> Self {
        RawResponses(std::marker::PhantomData)
    }
}

impl<Req: prost::Message + Send + 'static> Codec for RawResponses<Req> {
    type Encode = Req;
    type Decode = Bytes;
    type Encoder = RequestEncoder<Req>;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        RequestEncoder(std::marker::PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

pub struct RequestEncoder<Req>(std::marker::PhantomData<Req>);

impl<Req: prost::Message> Encoder for RequestEncoder<Req> {
    type Item = Req;
    type Error = Status;

    fn encode(&mut self, item: Req, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("cannot encode the request: {e}")))
    }
}

pub struct RawDecoder;

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
