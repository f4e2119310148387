//! Plans: a validated condition compiled against an evaluation time into a tree of set
//! operations over subjects (and, inside `has` / `aggregate`, over related records), then
//! simplified: constants folded, nested combinations flattened, double negation removed.

use std::fmt;
use std::sync::Arc;

use roaring::RoaringBitmap;

use crate::segment::definition::{
    AggregateFunction, Comparison, Condition, DefinitionError, Op, Operand, SegmentId,
};
use crate::segment::predicate::{Test, TextMatcher};
use crate::segment::schema::{Field, RelationKind};

/// A boolean tree of set operations with leaves `L`.
#[derive(Clone, Debug)]
pub enum Tree<L> {
    Everything,
    Nothing,
    And(Vec<Tree<L>>),
    Or(Vec<Tree<L>>),
    /// Everything in the current universe but the child: evaluated as an exclusion.
    Not(Box<Tree<L>>),
    Leaf(L),
}

/// A field test: `customer.*` / `cart.*` for subjects, the relation's tables for records.
#[derive(Clone, Debug)]
pub struct FieldTest {
    pub field: Field,
    pub test: Test,
}

/// What a subject-level leaf tests.
#[derive(Clone, Debug)]
pub enum SubjectLeaf {
    Field(FieldTest),
    Has {
        relation: RelationKind,
        filter: RecordPlan,
    },
    Aggregate {
        function: AggregateFunction,
        relation: RelationKind,
        of: Option<Field>,
        filter: RecordPlan,
        test: Test,
        /// The comparison as written: averages are fractions and compare with it exactly.
        op: Op,
        operand: Operand,
    },
    /// `in_segment`, resolved to the other segment's members.
    Segment {
        id: SegmentId,
        members: Arc<RoaringBitmap>,
    },
}

pub type Plan = Tree<SubjectLeaf>;
pub type RecordPlan = Tree<FieldTest>;

/// Resolves `in_segment` references while compiling.
pub type ResolveSegment<'a> =
    dyn FnMut(&SegmentId, &str) -> Result<Arc<RoaringBitmap>, DefinitionError> + 'a;

/// Compiles a condition for the evaluation day `as_of_day`.
pub fn compile(
    condition: &Condition,
    as_of_day: i32,
    resolve: &mut ResolveSegment<'_>,
) -> Result<Plan, DefinitionError> {
    let mut leaf = |condition: &Condition| -> Result<Plan, DefinitionError> {
        Ok(match condition {
            Condition::Compare(comparison) => field_leaf(comparison, as_of_day, SubjectLeaf::Field),
            Condition::Has { relation, filter } => Tree::Leaf(SubjectLeaf::Has {
                relation: *relation,
                filter: compile_records(filter.as_deref(), as_of_day),
            }),
            Condition::Aggregate(aggregate) => {
                let ty = match (aggregate.function, &aggregate.of) {
                    (AggregateFunction::Count, _) | (_, None) => crate::model::FieldType::Int,
                    (AggregateFunction::Avg, _) => crate::model::FieldType::Decimal,
                    (_, Some(field)) => field.ty,
                };
                Tree::Leaf(SubjectLeaf::Aggregate {
                    function: aggregate.function,
                    relation: aggregate.relation,
                    of: aggregate.of.clone(),
                    filter: compile_records(aggregate.filter.as_ref(), as_of_day),
                    test: Test::new(ty, aggregate.op, &aggregate.operand, as_of_day),
                    op: aggregate.op,
                    operand: aggregate.operand.clone(),
                })
            }
            Condition::InSegment { id, pointer } => Tree::Leaf(SubjectLeaf::Segment {
                id: id.clone(),
                members: resolve(id, pointer)?,
            }),
            combination => {
                unreachable!("combinations are compiled by compile_tree: {combination:?}")
            }
        })
    };
    compile_tree(condition, &mut leaf)
}

/// Compiles a `where` (no `where`: every record).
fn compile_records(condition: Option<&Condition>, as_of_day: i32) -> RecordPlan {
    let Some(condition) = condition else {
        return Tree::Everything;
    };
    let mut leaf = |condition: &Condition| -> Result<RecordPlan, std::convert::Infallible> {
        match condition {
            Condition::Compare(comparison) => Ok(field_leaf(comparison, as_of_day, |t| t)),
            other => unreachable!("validation keeps {other:?} out of a where"),
        }
    };
    match compile_tree(condition, &mut leaf) {
        Ok(plan) => plan,
        Err(never) => match never {},
    }
}

/// The combinations of a condition as set operations, leaves by `leaf`, simplified.
fn compile_tree<L, E>(
    condition: &Condition,
    leaf: &mut dyn FnMut(&Condition) -> Result<Tree<L>, E>,
) -> Result<Tree<L>, E> {
    let mut all = |children: &[Condition]| {
        children
            .iter()
            .map(|c| compile_tree(c, leaf))
            .collect::<Result<Vec<_>, E>>()
    };
    Ok(match condition {
        Condition::All(children) => Tree::And(all(children)?),
        // An empty combination imposes nothing (as in Magento).
        Condition::Any(children) if children.is_empty() => Tree::Everything,
        Condition::Any(children) => Tree::Or(all(children)?),
        Condition::None(children) => Tree::Not(Box::new(Tree::Or(all(children)?))),
        Condition::NotAll(children) if children.is_empty() => Tree::Everything,
        Condition::NotAll(children) => Tree::Not(Box::new(Tree::And(all(children)?))),
        Condition::Not(child) => Tree::Not(Box::new(compile_tree(child, leaf)?)),
        other => leaf(other)?,
    }
    .simplify())
}

/// A comparison's leaf, folded to a constant where the test cannot pass.
fn field_leaf<L>(
    comparison: &Comparison,
    as_of_day: i32,
    leaf: impl Fn(FieldTest) -> L,
) -> Tree<L> {
    let test = Test::new(
        comparison.field.ty,
        comparison.op,
        &comparison.operand,
        as_of_day,
    );
    let empty = match &test {
        Test::Ranges {
            ranges,
            negate: false,
        } => ranges.is_empty(),
        Test::Text {
            matcher: TextMatcher::Equals(values),
            negate: false,
        } => values.is_empty(),
        _ => false,
    };
    if empty {
        Tree::Nothing
    } else {
        Tree::Leaf(leaf(FieldTest {
            field: comparison.field.clone(),
            test,
        }))
    }
}

impl<L> Tree<L> {
    /// The intersection of `children`: everything when there are none.
    pub fn all_of(children: Vec<Tree<L>>) -> Tree<L> {
        match children.len() {
            0 => Tree::Everything,
            _ => Tree::And(children),
        }
    }

    /// Folds constants, flattens nested combinations, removes double negation.
    pub fn simplify(self) -> Tree<L> {
        match self {
            Tree::And(children) => {
                let mut flat = Vec::with_capacity(children.len());
                for child in children {
                    match child.simplify() {
                        Tree::Everything => {}
                        Tree::Nothing => return Tree::Nothing,
                        Tree::And(grandchildren) => flat.extend(grandchildren),
                        other => flat.push(other),
                    }
                }
                match flat.len() {
                    0 => Tree::Everything,
                    1 => flat.pop().expect("one"),
                    _ => Tree::And(flat),
                }
            }
            Tree::Or(children) => {
                let mut flat = Vec::with_capacity(children.len());
                for child in children {
                    match child.simplify() {
                        Tree::Nothing => {}
                        Tree::Everything => return Tree::Everything,
                        Tree::Or(grandchildren) => flat.extend(grandchildren),
                        other => flat.push(other),
                    }
                }
                match flat.len() {
                    0 => Tree::Nothing,
                    1 => flat.pop().expect("one"),
                    _ => Tree::Or(flat),
                }
            }
            Tree::Not(child) => match child.simplify() {
                Tree::Everything => Tree::Nothing,
                Tree::Nothing => Tree::Everything,
                Tree::Not(grandchild) => *grandchild,
                other => Tree::Not(Box::new(other)),
            },
            leaf => leaf,
        }
    }
}

impl<L: fmt::Display> fmt::Display for Tree<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, name: &str, children: &[Tree<L>]| {
            write!(f, "{name}(")?;
            for (i, child) in children.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{child}")?;
            }
            f.write_str(")")
        };
        match self {
            Tree::Everything => f.write_str("everything"),
            Tree::Nothing => f.write_str("nothing"),
            Tree::And(children) => list(f, "and", children),
            Tree::Or(children) => list(f, "or", children),
            Tree::Not(child) => write!(f, "not({child})"),
            Tree::Leaf(leaf) => write!(f, "{leaf}"),
        }
    }
}

impl fmt::Display for FieldTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field.path(), self.test)
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Test::IsNull => f.write_str("is null"),
            Test::IsNotNull => f.write_str("is not null"),
            Test::Ranges { ranges, negate } => {
                let shown: Vec<String> = ranges
                    .iter()
                    .map(|&(l, h)| match (l, h) {
                        (l, h) if l == h => l.to_string(),
                        (i64::MIN, h) => format!("..={h}"),
                        (l, i64::MAX) => format!("{l}.."),
                        (l, h) => format!("{l}..={h}"),
                    })
                    .collect();
                write!(
                    f,
                    "{}in {{{}}}",
                    if *negate { "not " } else { "" },
                    shown.join(", ")
                )
            }
            Test::Text { matcher, negate } => {
                let not = if *negate { "not " } else { "" };
                match matcher {
                    TextMatcher::Equals(values) => write!(f, "{not}in {values:?}"),
                    TextMatcher::Contains(v) => write!(f, "{not}contains {v:?}"),
                    TextMatcher::StartsWith(v) => write!(f, "{not}starts with {v:?}"),
                    TextMatcher::EndsWith(v) => write!(f, "{not}ends with {v:?}"),
                }
            }
            Test::List { op, ids } => write!(f, "{op:?} {ids:?}"),
        }
    }
}

impl fmt::Display for SubjectLeaf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubjectLeaf::Field(test) => write!(f, "{test}"),
            SubjectLeaf::Has { relation, filter } => write!(f, "has {relation}[{filter}]"),
            SubjectLeaf::Aggregate {
                function,
                relation,
                of,
                filter,
                test,
                ..
            } => {
                let of = of.as_ref().map_or(relation.name().to_string(), Field::path);
                write!(f, "{}({of})[{filter}] {test}", function.name())
            }
            SubjectLeaf::Segment { id, members } => {
                write!(f, "in_segment {id} ({} members)", members.len())
            }
        }
    }
}
