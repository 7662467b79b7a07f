//! Sweep definitions: `matrices/*.toml` files ([`load_matrix`], schema in `file`) and
//! the thread-count grids they and the flags use: `8`, `1,2,4,8`, `1..=8`, `1..=64:x2`
//! (geometric), and any mix of those separated by commas. Grid values are sorted and
//! de-duplicated.

mod file;

#[cfg(test)]
pub use file::parse_matrix;
pub use file::{find_matrix, MatrixFile};

#[cfg(test)]
pub use crate::grid::format_grid;
pub use crate::grid::{parse_grid, GridError, MAX_THREADS};
