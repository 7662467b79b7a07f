//! What users read: the terminal comparison (`terminal.rs`) and the report folder's
//! files: heatmaps, time series and Pareto plots (PNG + SVG), `cells.csv`,
//! `summary.md` and `index.html`.

pub mod colormap;
pub mod commands;
pub mod compare;
pub mod csv;
pub mod failures;
pub mod figure;
pub mod files;
pub mod gate;
pub mod grid;
pub mod heatmap;
pub mod html;
pub mod markdown;
pub mod mechanisms;
pub mod pareto;
pub mod pools;
mod raster;
pub mod rounds_figure;
pub mod rounds_text;
pub mod scale;
pub mod summary_json;
pub mod terminal;
pub mod timeseries;
