//! What the OpenAPI document says beyond each handler's own attributes: the naming rule of
//! `{name}`, the answers every route can give (the router's layers answer them, not the
//! handlers), bytes as bytes, and the limits this server was started with, so that a request
//! the document allows is one the server takes.

use serde_json::Value;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{
    ArrayItems, KnownFormat, Object, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{Content, Header, OpenApi, Ref, RefOr, ResponseBuilder};

use crate::render::MAX_PIXELS;
use crate::som::{
    Compatibility, Decay, Distance, InitMethod, Mode, NamedOption, Neighbourhood, Order, Scaling,
    Topology,
};
use crate::storage::{MAX_NAME_LEN, OptionsRecord};

/// SPEC §4's naming rule as an ECMA regex without look-arounds (which not every schema tool
/// reads): a first character that is not `.`, then, past four characters, an end that is not
/// `.npy`. Its length (1-200) is said by `minLength` and `maxLength`.
const NAME: &str = r"(?:[A-Za-z0-9_-][A-Za-z0-9._-]{0,3}|[A-Za-z0-9_-][A-Za-z0-9._-]*(?:[A-Za-xz0-9._-]|[A-Za-oq-z0-9._-]y|[A-Za-mo-z0-9._-]py|[A-Za-z0-9_-]npy))";

/// A model or job name.
pub fn name_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!("^{NAME}$")))
        .min_length(Some(1))
        .max_length(Some(MAX_NAME_LEN))
        .examples(["10X10_100N"])
        .build()
}

/// A model name, or the name of its file (`NAME.npy`), as `/download` takes it.
pub fn file_name_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(r"^{NAME}(?:\.npy)?$")))
        .min_length(Some(1))
        .max_length(Some(MAX_NAME_LEN + ".npy".len()))
        .examples(["10X10_100N"])
        .build()
}

/// A job's status.
pub fn status_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([
            "queued",
            "running",
            "succeeded",
            "failed",
            "cancelled",
        ]))
        .build()
}

/// An option of SPEC §3b: one of the names of `all` (the core's list, so the document cannot
/// fall behind it) or null, which a request may send for "the default". The description is
/// the schema's own: utoipa drops a field's doc comment when the field has `schema_with`.
fn named_option<T: NamedOption>(
    all: &[T],
    default: Option<T>,
    example: T,
    description: &str,
) -> Object {
    let names = all.iter().map(|value| Value::from(value.as_str()));
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(names.chain([Value::Null])))
        .default(default.map(|value| value.as_str().into()))
        .examples([example.as_str()])
        .description(Some(description))
        .build()
}

pub fn topology_schema() -> Object {
    named_option(
        Topology::ALL,
        Some(OptionsRecord::default().topology),
        Topology::Hexagonal,
        "How nodes sit on the grid: `hexagonal` shifts odd rows right by half a node (6 neighbours at distance 1).",
    )
}

pub fn neighbourhood_schema() -> Object {
    named_option(
        Neighbourhood::ALL,
        Some(OptionsRecord::default().neighbourhood),
        Neighbourhood::Bubble,
        "The factor a node gets from its grid distance to the best-matching node (`mexican-hat`: online mode only).",
    )
}

pub fn schedule_schema() -> Object {
    named_option(
        Decay::ALL,
        Some(OptionsRecord::default().schedule),
        Decay::Linear,
        "How the radius and learning rate fall from iteration to iteration (`final_radius` and `final_learning_rate` belong to `linear`).",
    )
}

pub fn compatibility_schema() -> Object {
    named_option(
        Compatibility::ALL,
        OptionsRecord::default().compatibility,
        Compatibility::PythonService,
        "Reproduce the Python service's maps: it fixes the neighbourhood, schedule and radius, so none of them (nor batch mode) may be given with it.",
    )
}

pub fn distance_schema() -> Object {
    named_option(
        Distance::ALL,
        Some(OptionsRecord::default().distance),
        Distance::Cosine,
        "The distance between a vector and a node's weights, for training, prediction and quality.",
    )
}

pub fn init_schema() -> Object {
    named_option(
        InitMethod::ALL,
        OptionsRecord::default().init,
        InitMethod::Pca,
        "Where the weights start: uniform in [0, 1) from the seed, training rows drawn from the seed, or spread over the plane of the data's two principal components (no randomness). In a record, null when the training started from given weights.",
    )
}

pub fn order_schema() -> Object {
    named_option(
        Order::ALL,
        Some(OptionsRecord::default().order),
        Order::Shuffled,
        "The order of the samples in each iteration: `shuffled` draws a new permutation from the seed every iteration (online mode only).",
    )
}

pub fn scaling_schema() -> Object {
    named_option(
        Scaling::ALL,
        Some(OptionsRecord::default().scaling),
        Scaling::Standard,
        "Feature scaling fitted on the training data: a scaled model's weights, errors and prediction distances are in scaled units, and its record holds the scaler.",
    )
}

pub fn mode_schema() -> Object {
    named_option(
        Mode::ALL,
        Some(OptionsRecord::default().mode),
        Mode::Batch,
        "`online`: the weights move after every sample, by the learning rate; `batch`: once per iteration, with no learning rate (its model name ends `_{N}N_batch`).",
    )
}

/// The limits a server was started with, as the document states them.
pub struct DocumentedLimits {
    pub max_iterations: usize,
    pub max_nodes: usize,
    pub max_body_bytes: usize,
}

/// Completes the document made from the handlers' attributes: the naming rule on every
/// `{name}`, the answers of the router's layers on every operation, binary media as bytes, and
/// `limits`.
pub fn complete(document: &mut OpenApi, limits: &DocumentedLimits) {
    for (path, item) in document.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            name_parameter(operation, path.starts_with("/download/"));
            layer_answers(operation, limits.max_body_bytes);
            binary_media(operation);
        }
    }
    let Some(components) = document.components.as_mut() else {
        return;
    };
    if let Some(RefOr::T(Schema::Object(train))) = components.schemas.get_mut("TrainIn") {
        if let Some(RefOr::T(Schema::Object(iterations))) =
            train.properties.get_mut("max_iterations")
        {
            iterations.maximum = Some(limits.max_iterations.into());
        }
        if let Some(RefOr::T(Schema::Array(grid))) = train.properties.get_mut("grid_shape")
            && let ArrayItems::RefOrSchema(side) = &mut grid.items
            && let RefOr::T(Schema::Object(side)) = side.as_mut()
        {
            side.minimum = Some(1.into());
            side.maximum = Some(limits.max_nodes.into());
        }
    }
    for item in document.paths.paths.values_mut() {
        for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
            for parameter in parameters(operation) {
                if parameter.name == "scale"
                    && let Some(RefOr::T(Schema::Object(scale))) = parameter.schema.as_mut()
                {
                    // The largest scale of the smallest map (1 x 1) within MAX_PIXELS.
                    scale.maximum = Some(MAX_PIXELS.isqrt().into());
                }
            }
        }
    }
}

/// The router answers these before any handler runs: 403 to a browser of another origin on
/// every route, and, where there is a body, 408 when it stops arriving, 413 past
/// `--max-body-bytes` and 503 while too many bodies are being read.
fn layer_answers(operation: &mut Operation, max_body_bytes: usize) {
    let error = || Content::new(Some(Ref::from_schema_name("ErrorOut")));
    let answer = |description: &str| {
        ResponseBuilder::new()
            .description(description)
            .content("application/json", error())
            .build()
    };
    let mut answers = vec![(
        "403",
        answer("A browser request from another origin (forbidden_origin)"),
    )];
    if operation.request_body.is_some() {
        answers.push(("408", answer("The body stopped arriving (body_timeout)")));
        answers.push((
            "413",
            answer(&format!(
                "The body is over the limit of {max_body_bytes} bytes (body_too_large)"
            )),
        ));
        answers.push((
            "503",
            ResponseBuilder::new()
                .description("The server is busy: too many bodies are being read, or (trainings) the job queue is full; see Retry-After (busy, queue_full)")
                .content("application/json", error())
                .header("Retry-After", Header::new(ObjectBuilder::new().schema_type(Type::Integer)))
                .build(),
        ));
    }
    for (status, response) in answers {
        // A handler that says more (e.g. why a training is 503) keeps its own words.
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert(response.into());
    }
}

/// Every `{name}` follows the naming rule (`/download` also takes the file name `NAME.npy`),
/// and a name that does not is 400 `invalid_name`.
fn name_parameter(operation: &mut Operation, file_name: bool) {
    let mut named = false;
    for parameter in parameters(operation) {
        if parameter.name == "name" && parameter.parameter_in == ParameterIn::Path {
            let schema = if file_name {
                file_name_schema()
            } else {
                name_schema()
            };
            parameter.schema = Some(RefOr::T(Schema::Object(schema)));
            named = true;
        }
    }
    if named {
        let description = if operation.request_body.is_some() {
            "The body is not JSON (invalid_json), or the name breaks the naming rule (invalid_name)"
        } else {
            "The name breaks the naming rule (invalid_name)"
        };
        operation
            .responses
            .responses
            .entry("400".to_owned())
            .or_insert(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name("ErrorOut"))),
                    )
                    .build()
                    .into(),
            );
    }
}

/// Bodies that are not JSON (a `.npy`, a PNG) are bytes, not arrays of numbers.
fn binary_media(operation: &mut Operation) {
    let bytes = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .build()
    };
    let mut contents: Vec<&mut RefOr<Content>> = Vec::new();
    if let Some(RefOr::T(RequestBody { content, .. })) = operation.request_body.as_mut() {
        contents.extend(
            content
                .iter_mut()
                .filter(|(media, _)| binary(media))
                .map(|(_, c)| c),
        );
    }
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            contents.extend(
                response
                    .content
                    .iter_mut()
                    .filter(|(media, _)| binary(media))
                    .map(|(_, c)| c),
            );
        }
    }
    for content in contents {
        if let RefOr::T(content) = content {
            content.schema = Some(RefOr::T(Schema::Object(bytes())));
        }
    }
}

/// The operation's parameters written in place (not references to components).
fn parameters(operation: &mut Operation) -> impl Iterator<Item = &mut Parameter> {
    operation
        .parameters
        .iter_mut()
        .flatten()
        .filter_map(|parameter| match parameter {
            RefOr::T(parameter) => Some(parameter),
            RefOr::Ref(_) => None,
        })
}

fn binary(media: &str) -> bool {
    media == "application/octet-stream" || media.starts_with("image/")
}
