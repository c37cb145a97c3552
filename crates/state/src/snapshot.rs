//! The state as bytes, so that opening a large ledger does not replay it from zero. A
//! snapshot is derived data: its format may change between builds (it is then rebuilt), and it
//! is only ever trusted together with the log it was taken from (see chl-ledger).

use crate::state::State;

const CONFIG: bincode::config::Configuration = bincode::config::standard();

/// The state's bytes. Must be taken between batches.
pub fn encode(state: &State) -> Vec<u8> {
    bincode::encode_to_vec(state, CONFIG).expect("encoding into memory cannot fail")
}

pub fn decode(bytes: &[u8]) -> Result<State, String> {
    let (state, used): (State, usize) =
        bincode::decode_from_slice(bytes, CONFIG).map_err(|e| e.to_string())?;
    if used != bytes.len() {
        return Err(format!("{} bytes after the state", bytes.len() - used));
    }
    Ok(state)
}
