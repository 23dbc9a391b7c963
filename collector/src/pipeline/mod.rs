//! What a worker does with each datagram between the socket and the writer queue:
//! decode, apply configured sampling, track sequence numbers, batch.

pub mod sampling;
pub mod sequence;
pub mod worker;
