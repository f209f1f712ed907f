//! placeholder
pub mod mask;
pub mod plan;
