//! The world a history happens in, designed before the first line is written: parties,
//! suppliers and their margins, brands and products, agents and their grant trees, stores in
//! 1 + N + n proportions, agreements, and every store's situation (the case it was built to
//! be). Its size grows with the number of brands and stores, never with the number of sales.
//!
//! Every non-sale event (registrations, grants, store openings and closures, revocations,
//! suspensions, ...) is rendered here as a submission line with the time at which it is to be
//! written; the sale stream (`stream.rs`) interleaves them with the sales.

use crate::Config;
use crate::clock::*;
use crate::names::*;
use crate::rng::Rng;

/// The tier of a store in 1 + N + n.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Flagship,
    Franchise,
    Specialty,
    Taobao,
}

impl Tier {
    pub fn channel(self) -> &'static str {
        match self {
            Tier::Flagship => "tmall_flagship",
            Tier::Franchise => "tmall_franchise",
            Tier::Specialty => "tmall_specialty",
            Tier::Taobao => "taobao",
        }
    }

    pub fn is_tmall(self) -> bool {
        self != Tier::Taobao
    }
}

/// The case a store was built to be. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Situation {
    /// The brand owner's flagship store.
    Own,
    /// A grant chain to its operator holds for its whole life.
    Authorized,
    /// Its operator never holds a grant of the brand (a grey seller).
    NoGrant,
    /// Its operator's only grant of the brand is for another channel (the grant of the
    /// operator's Tmall store, `Store::leaf`).
    WrongChannel,
    /// Its grant ends at `at` and is not renewed; the store keeps selling.
    Expires { at: i64 },
    /// Its grant, or (`cascade`) the sub-agent's grant above it, is revoked with effect
    /// `at`. With `cascade` the store's agreement is with that sub-agent, so the agreement's
    /// supplier grant is revoked too.
    Revoked { at: i64, cascade: bool },
    /// Its grant starts at `from`, after the store opened. `late`: the grant is also recorded
    /// only at `from` (not before the first sales).
    NotYetValid { from: i64, late: bool },
    /// Its grant is recorded at `recorded`, backdated to before the store opened.
    Backdated { recorded: i64 },
}

/// Whether an agreement covers the store's goods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sourcing {
    /// No agreement, ever.
    None,
    /// An agreement from before the store opened to after the history ends.
    Always,
    /// An agreement that ends at this time (terminated, or its window ends).
    Until(i64),
}

/// What a grant covers: everything, some categories (bits), or some skus (indexes into the
/// brand's skus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Categories(u8),
    Skus(Vec<u16>),
}

impl Scope {
    pub fn covers(&self, sku: usize, category: u8) -> bool {
        match self {
            Scope::All => true,
            Scope::Categories(bits) => bits & (1 << category) != 0,
            Scope::Skus(list) => list.contains(&(sku as u16)),
        }
    }

    /// Whether every product covered by `self` is covered by `outer` (scope containment of
    /// spec/events.md; `categories` gives each listed sku's category).
    fn within(&self, outer: &Scope, categories: &[u8]) -> bool {
        match (self, outer) {
            (_, Scope::All) => true,
            (Scope::All, _) => false,
            (Scope::Categories(inner), Scope::Categories(outer)) => inner & !outer == 0,
            (Scope::Skus(list), Scope::Categories(outer)) => {
                list.iter().all(|&s| outer & (1 << categories[s as usize]) != 0)
            }
            (Scope::Skus(list), Scope::Skus(outer)) => list.iter().all(|s| outer.contains(s)),
            (Scope::Categories(_), Scope::Skus(_)) => false,
        }
    }
}

/// What sales need to know of a grant.
#[derive(Debug, Clone)]
pub struct Grant {
    pub scope: Scope,
    /// Province indexes; `None`: every region.
    pub regions: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct Store {
    pub id: String,
    pub brand: u32,
    pub tier: Tier,
    /// Index of the operating party (the generator's own numbering).
    pub operator: u32,
    /// Province index of the store.
    pub region: u8,
    pub open: i64,
    pub close: Option<i64>,
    /// Whether sales are still recorded after `close` (a case of its own).
    pub sells_after_close: bool,
    /// The grant whose scope and regions the store's sales are meant to keep to (its own
    /// leaf grant, or for `WrongChannel` the grant of its operator's Tmall store).
    pub leaf: Option<u32>,
    pub situation: Situation,
    pub sourcing: Sourcing,
}

impl Store {
    /// Whether sales may be generated at `t`: opened, and not closed unless built to sell on.
    pub fn sells_at(&self, t: i64) -> bool {
        t >= self.open && (self.sells_after_close || self.close.is_none_or(|c| t < c))
    }

    pub fn closed_at(&self, t: i64) -> bool {
        self.close.is_some_and(|c| t >= c)
    }
}

#[derive(Debug, Clone)]
pub struct Sku {
    pub id: String,
    pub category: u8,
    /// Minimum retail price in fen.
    pub floor: Option<i64>,
    /// List price in fen.
    pub list: i64,
    /// Registered (effective) at this time; never sold before.
    pub launch: i64,
}

#[derive(Debug, Clone)]
pub struct Brand {
    pub slug: String,
    /// Sorted by launch time.
    pub skus: Vec<Sku>,
    /// The owner's suspension: `[from, until)`.
    pub suspended: Option<(i64, i64)>,
    pub flagship: u32,
    /// The brand's stores: `stores[first..end]`.
    pub first_store: u32,
    pub end_store: u32,
}

impl Brand {
    pub fn owner_active(&self, t: i64) -> bool {
        self.suspended.is_none_or(|(from, until)| t < from || t >= until)
    }

    /// How many skus are registered at `t` (a prefix of `skus`).
    pub fn launched(&self, t: i64) -> usize {
        self.skus.partition_point(|s| s.launch <= t)
    }
}

/// Stores by the hunted case they can give.
#[derive(Debug, Default, Clone)]
pub struct Lists {
    pub no_grant: Vec<u32>,
    pub expires: Vec<u32>,
    pub revoked: Vec<u32>,
    pub not_yet_valid: Vec<u32>,
    pub backdated: Vec<u32>,
    /// Stores whose grant leaves out some of the brand's products.
    pub scoped: Vec<u32>,
    /// Stores whose grant lists regions.
    pub regional: Vec<u32>,
    pub wrong_channel: Vec<u32>,
    /// Stores without an agreement, always or from some time.
    pub unverified: Vec<u32>,
    pub closed_selling: Vec<u32>,
}

/// The designed world, and its non-sale events in the order they are written.
pub struct World {
    /// First and last instant of sales: `[start, end)`.
    pub start: i64,
    pub end: i64,
    /// No event is effective after this.
    pub last: i64,
    pub brands: Vec<Brand>,
    pub stores: Vec<Store>,
    pub grants: Vec<Grant>,
    /// Lines of the non-sale events, concatenated in writing order.
    pub text: Vec<u8>,
    /// For each event: when it is written (its place among the sales) and where its line ends
    /// in `text`.
    pub events: Vec<(i64, usize)>,
    /// Cumulative weights of the stores for ordinary (clean) sales.
    pub cumulative: Vec<f64>,
    pub lists: Lists,
}

impl World {
    /// Bytes held, by capacity (for the constant-memory test).
    pub fn footprint(&self) -> usize {
        let strings: usize = self.stores.iter().map(|s| s.id.capacity()).sum::<usize>()
            + self
                .brands
                .iter()
                .map(|b| b.slug.capacity() + b.skus.iter().map(|s| s.id.capacity()).sum::<usize>())
                .sum::<usize>();
        let lists = &self.lists;
        let list_bytes: usize = [
            &lists.no_grant,
            &lists.expires,
            &lists.revoked,
            &lists.not_yet_valid,
            &lists.backdated,
            &lists.scoped,
            &lists.regional,
            &lists.wrong_channel,
            &lists.unverified,
            &lists.closed_selling,
        ]
        .iter()
        .map(|v| v.capacity() * 4)
        .sum();
        strings
            + list_bytes
            + self.brands.capacity() * size_of::<Brand>()
            + self.brands.iter().map(|b| b.skus.capacity() * size_of::<Sku>()).sum::<usize>()
            + self.stores.capacity() * size_of::<Store>()
            + self.grants.capacity() * size_of::<Grant>()
            + self.text.capacity()
            + self.events.capacity() * 16
            + self.cumulative.capacity() * 8
    }
}

// ---- building ---------------------------------------------------------------------------------

const MIN_MARGIN: i64 = 1_000_000; // 10,000.00 CNY
const CHANNELS_OF_AGENTS: [&str; 3] = ["tmall_franchise", "tmall_specialty", "taobao"];

/// The cases distributor stores are built as, in the order a brand deals them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Expires,
    Revoked,
    NotYetValidEarly,
    NotYetValidLate,
    Backdated,
    ClosedSelling,
    NoAgreement,
    AgreementTerminated,
    AgreementLapsed,
}

const CASES: [Case; 9] = [
    Case::Expires,
    Case::Revoked,
    Case::NotYetValidEarly,
    Case::NotYetValidLate,
    Case::Backdated,
    Case::ClosedSelling,
    Case::NoAgreement,
    Case::AgreementTerminated,
    Case::AgreementLapsed,
];

/// The share of a brand's authorized distributor stores built as a case.
const CASE_SHARE: f64 = 0.3;

/// A submission line being written.
struct Line(Vec<u8>, bool);

impl Line {
    fn new(kind: &str, actor: &str, at: i64) -> Line {
        let mut b = Vec::with_capacity(320);
        b.extend_from_slice(b"{\"type\":\"");
        b.extend_from_slice(kind.as_bytes());
        b.extend_from_slice(b"\",\"actor\":\"");
        escape(&mut b, actor);
        b.extend_from_slice(b"\",\"effective_at\":\"");
        push_time(&mut b, at);
        b.extend_from_slice(b"\",\"data\":{");
        Line(b, true)
    }

    fn key(&mut self, key: &str) {
        if !self.1 {
            self.0.push(b',');
        }
        self.1 = false;
        self.0.push(b'"');
        self.0.extend_from_slice(key.as_bytes());
        self.0.extend_from_slice(b"\":");
    }

    fn s(mut self, key: &str, value: &str) -> Line {
        self.key(key);
        self.0.push(b'"');
        escape(&mut self.0, value);
        self.0.push(b'"');
        self
    }

    fn b(mut self, key: &str, value: bool) -> Line {
        self.key(key);
        self.0.extend_from_slice(if value { b"true" } else { b"false" });
        self
    }

    fn t(mut self, key: &str, at: i64) -> Line {
        self.key(key);
        self.0.push(b'"');
        push_time(&mut self.0, at);
        self.0.push(b'"');
        self
    }

    fn money(mut self, key: &str, fen: i64) -> Line {
        self.key(key);
        self.0.extend_from_slice(b"{\"value\":");
        push_i64(&mut self.0, fen);
        self.0.extend_from_slice(b",\"currency\":\"CNY\"}");
        self
    }

    fn raw(mut self, key: &str, raw: &[u8]) -> Line {
        self.key(key);
        self.0.extend_from_slice(raw);
        self
    }

    fn strs<'a>(mut self, key: &str, items: impl IntoIterator<Item = &'a str>) -> Line {
        self.key(key);
        self.0.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.0.push(b'"');
            escape(&mut self.0, item);
            self.0.push(b'"');
        }
        self.0.push(b']');
        self
    }

    fn done(mut self) -> Vec<u8> {
        self.0.extend_from_slice(b"}}\n");
        self.0
    }
}

/// JSON string escaping (the generated text is plain ASCII, but names stay safe whatever).
fn escape(out: &mut Vec<u8>, s: &str) {
    for c in s.bytes() {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            c if c < 0x20 => {
                out.extend_from_slice(b"\\u00");
                out.push(b"0123456789abcdef"[usize::from(c >> 4)]);
                out.push(b"0123456789abcdef"[usize::from(c & 15)]);
            }
            c => out.push(c),
        }
    }
}

/// A grant being built, with what later grants and agreements need of it.
struct GrantPlan {
    id: String,
    grantee: usize,
    scope: Scope,
    regions: Option<Vec<u8>>,
    valid_from: i64,
    valid_until: i64,
}

/// The brand being built.
struct BrandPlan {
    index: u32,
    slug: String,
    name: String,
    domain: &'static Domain,
    owner: usize,
    host: Option<usize>,
    /// Id and category of each sku, by index (sorted by launch).
    sku_ids: Vec<String>,
    sku_categories: Vec<u8>,
    /// Indexes of skus registered at setup, by category.
    setup_skus: [Vec<u16>; 3],
    /// Agents: (party, grant index in `Builder::grants`, area name).
    agents: Vec<(usize, usize, &'static str)>,
    /// Sub-agents: (party, grant index, index of the agent above).
    subagents: Vec<(usize, usize, usize)>,
    /// The sub-agent whose grant is revoked, and when.
    revoked_subagent: Option<(usize, i64)>,
    case_cursor: usize,
    exclusive_given: bool,
    /// Setup window for stores opened before the sales start.
    setup_from: i64,
}

struct Builder<'a> {
    cfg: &'a Config,
    rng: Rng,
    start: i64,
    end: i64,
    parties: Vec<String>,
    credit_serial: u64,
    events: Vec<(i64, u32, Vec<u8>)>,
    plans: Vec<GrantPlan>,
    stores: Vec<Store>,
    weights: Vec<f64>,
    brands: Vec<Brand>,
    hosts: Vec<usize>,
    shop_serial: u64,
}

pub fn build(cfg: &Config) -> World {
    let end = local_midnight(cfg.end);
    let start = end - i64::from(cfg.years) * 365 * DAY;
    let mut b = Builder {
        cfg,
        rng: Rng::new(cfg.seed, 0x0057_4F52_4C44), // "WORLD"
        start,
        end,
        parties: Vec::new(),
        credit_serial: 0,
        events: Vec::new(),
        plans: Vec::new(),
        stores: Vec::new(),
        weights: Vec::new(),
        brands: Vec::new(),
        hosts: Vec::new(),
        shop_serial: 0,
    };
    b.platform_setup();
    let mut names: Vec<&str> = BRAND_NAMES.to_vec();
    for i in (1..names.len()).rev() {
        let j = b.rng.index(i + 1);
        names.swap(i, j);
    }
    for index in 0..cfg.brands {
        let name = names[index as usize % names.len()];
        let round = index as usize / names.len();
        let (slug, name) = match round {
            0 => (name.to_lowercase(), name.to_owned()),
            n => (format!("{}{}", name.to_lowercase(), n + 1), format!("{name} {}", n + 1)),
        };
        b.brand(index, slug, name);
    }
    b.finish()
}

impl Builder<'_> {
    fn emit(&mut self, at: i64, line: Vec<u8>) {
        let order = self.events.len() as u32;
        self.events.push((at, order, line));
    }

    fn party(&mut self, id: String) -> usize {
        self.parties.push(id);
        self.parties.len() - 1
    }

    /// A time of day in business hours on the local day of `t`.
    fn office_hours(&mut self, t: i64) -> i64 {
        local_midnight(t) + self.rng.range(9 * HOUR, 18 * HOUR)
    }

    /// A time in business hours on a random day of `lo..hi`.
    fn office_between(&mut self, lo: i64, hi: i64) -> i64 {
        let t = self.rng.range(lo, hi);
        self.office_hours(t)
    }

    /// A valid unified social credit code for a company registered in `division`.
    fn credit_code(&mut self, division: &str) -> String {
        const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
        self.credit_serial += 1;
        let mut n = (self.credit_serial * 7_919 + 12_345) % 27_512_614_111; // 31^7
        let mut org = [b'0'; 7];
        for c in org.iter_mut().rev() {
            *c = ALPHABET[(n % 31) as usize];
            n /= 31;
        }
        let mut code = format!("91{division}MA{}", std::str::from_utf8(&org).expect("ASCII"));
        let check = chl_model::codes::credit_code_check_char(code.as_bytes()).expect("alphabet");
        code.push(check);
        code
    }

    fn hex64(&mut self) -> String {
        let mut s = String::with_capacity(64);
        for _ in 0..4 {
            s.push_str(&format!("{:016x}", self.rng.next_u64()));
        }
        s
    }

    fn register(&mut self, at: i64, id: &str, legal_name: &str, credit_code: Option<&str>) {
        let mut line =
            Line::new("party_registered", "platform", at).s("party", id).s("legal_name", legal_name);
        if let Some(code) = credit_code {
            line = line.s("credit_code", code);
        }
        self.emit(at, line.done());
    }

    /// Registers, admits and funds a supplier on `division`'s business licence.
    fn supplier(
        &mut self,
        at: i64,
        id: &str,
        legal_name: &str,
        division: &str,
        extra: Option<(&str, String)>,
    ) {
        let code = self.credit_code(division);
        self.register(at, id, legal_name, Some(&code));
        let licence = format!("BL-{division}-{:09}", self.rng.below(1_000_000_000));
        let mut quals = format!(
            "[{{\"kind\":\"business_license\",\"reference\":\"{licence}\",\"valid_until\":\"{}\"}}",
            time_string(self.end + 5 * 365 * DAY)
        );
        if let Some((kind, reference)) = extra {
            let hash = self.hex64();
            quals.push_str(&format!(
                ",{{\"kind\":\"{kind}\",\"reference\":\"{reference}\",\"document_hash\":\"{hash}\"}}"
            ));
        }
        quals.push(']');
        let admitted = at + DAY;
        let line = Line::new("supplier_admitted", "platform", admitted)
            .s("supplier", id)
            .raw("qualifications", quals.as_bytes())
            .done();
        self.emit(admitted, line);
        let deposit = (self.rng.between(3, 20) as i64) * 1_000_000;
        let line = Line::new("margin_deposited", "platform", at + 2 * DAY)
            .s("supplier", id)
            .money("amount", deposit)
            .done();
        self.emit(at + 2 * DAY, line);
    }

    fn platform_setup(&mut self) {
        let t0 = self.start - 330 * DAY;
        let line = Line::new("policy_set", "platform", t0).money("min_margin", MIN_MARGIN).done();
        self.emit(t0, line);
        for (i, name) in ["Yunshang Channel Services", "Hangzhou Bluewave E-commerce", "Brandpath Partners"]
            .iter()
            .enumerate()
        {
            let id = format!("tp-{}", ["yunshang", "bluewave", "brandpartners"][i]);
            let city = CITIES[[0, 1, 2][i]];
            let code = self.credit_code(city.2);
            let legal = format!("{name} ({}) Co., Ltd.", city.0);
            let at = t0 + HOUR * (i as i64 + 1);
            self.register(at, &id, &legal, Some(&code));
            let party = self.party(id);
            self.hosts.push(party);
        }
    }

    fn brand(&mut self, index: u32, slug: String, name: String) {
        let t0 = self.start - 330 * DAY;
        let base = local_midnight(t0 + DAY + i64::from(index % 40) * DAY / 2)
            + 9 * HOUR
            + i64::from(index) * 7 * MINUTE;
        let domain = &DOMAINS[self.rng.index(DOMAINS.len())];
        let city = CITIES[self.rng.index(CITIES.len())];

        // The owner: a supplier with its trademark certificate, and its brand.
        let owner_id = format!("{slug}-co");
        let trademark = format!("TM-{:08}", self.rng.between(10_000_000, 99_999_999));
        self.supplier(
            base,
            &owner_id,
            &format!("{name} {} ({}) Co., Ltd.", domain.word, city.0),
            city.2,
            Some(("trademark_certificate", trademark.clone())),
        );
        let owner = self.party(owner_id.clone());
        let classes: Vec<String> = domain.classes.iter().map(|c| c.to_string()).collect();
        let line = Line::new("brand_registered", "platform", base + 3 * DAY)
            .s("brand", &slug)
            .s("name", &name)
            .s("owner", &owner_id)
            .s("trademark_no", &trademark)
            .raw("classes", format!("[{}]", classes.join(",")).as_bytes())
            .done();
        self.emit(base + 3 * DAY, line);

        // A channel host for some brands: it registers nothing itself, but issues the owner's
        // root grants and signs the owner's agreements, as the owner's agent.
        let host = if self.rng.chance(0.35) {
            let host = *self.rng.pick(&self.hosts.clone());
            let at = base + 3 * DAY + 2 * HOUR;
            let line = Line::new("channel_host_appointed", &owner_id, at)
                .s("brand", &slug)
                .s("host", &self.parties[host].clone())
                .strs("powers", ["grants", "agreements"])
                .t("valid_from", at)
                .t("valid_until", at + 4 * 365 * DAY)
                .done();
            self.emit(at, line);
            Some(host)
        } else {
            None
        };

        // Products: three categories, three to five products each at setup, and up to two
        // launched during the history.
        let mut skus: Vec<Sku> = Vec::new();
        let upper = slug.to_uppercase();
        for (c, (_, code, items)) in domain.categories.iter().enumerate() {
            let mut order: Vec<usize> = (0..items.len()).collect();
            for i in (1..order.len()).rev() {
                let j = self.rng.index(i + 1);
                order.swap(i, j);
            }
            let at_setup = self.rng.between(3, 5) as usize;
            let later = self.rng.between(0, 2) as usize;
            for (k, &item) in order.iter().take(at_setup + later).enumerate() {
                let launch = if k < at_setup {
                    base + 4 * DAY + (c * 6 + k) as i64 * 5 * MINUTE
                } else {
                    self.office_between(self.start + 30 * DAY, self.end - 90 * DAY)
                };
                let (lo, hi) = domain.floor_yuan;
                let floor_yuan = self.rng.between(lo, hi) / 10 * 10 + 9;
                let list_yuan = (floor_yuan * self.rng.between(120, 180) / 100) / 10 * 10 + 9;
                let floor = self.rng.chance(0.88).then_some(floor_yuan as i64 * 100);
                skus.push(Sku {
                    id: format!("{upper}-{code}-{:02}", item + 1),
                    category: c as u8,
                    floor,
                    list: list_yuan as i64 * 100,
                    launch,
                });
            }
        }
        skus.sort_by_key(|s| s.launch);
        for s in &skus {
            let (category, _, items) = &domain.categories[s.category as usize];
            let number: usize = s.id.rsplit('-').next().and_then(|n| n.parse().ok()).expect("sku number");
            let product_name = format!("{name} {}", items[number - 1]);
            let actor = match host {
                // A host registers only setup products: it may be dismissed during the history.
                Some(h) if s.launch < self.start && self.rng.chance(0.3) => self.parties[h].clone(),
                _ => owner_id.clone(),
            };
            let mut line = Line::new("product_registered", &actor, s.launch)
                .s("sku", &s.id)
                .s("brand", &slug)
                .s("name", &product_name)
                .s("category", category);
            if let Some(floor) = s.floor {
                line = line.money("price_floor", floor);
            }
            self.emit(s.launch, line.done());
        }
        let sku_ids: Vec<String> = skus.iter().map(|s| s.id.clone()).collect();
        let sku_categories: Vec<u8> = skus.iter().map(|s| s.category).collect();
        let mut setup_skus: [Vec<u16>; 3] = Default::default();
        for (i, s) in skus.iter().enumerate() {
            if s.launch < self.start {
                setup_skus[s.category as usize].push(i as u16);
            }
        }

        let mut plan = BrandPlan {
            index,
            slug: slug.clone(),
            name: name.clone(),
            domain,
            owner,
            host,
            sku_ids,
            sku_categories,
            setup_skus,
            agents: Vec::new(),
            subagents: Vec::new(),
            revoked_subagent: None,
            case_cursor: self.rng.index(CASES.len()),
            exclusive_given: false,
            setup_from: base + 31 * DAY,
        };

        self.agents(&mut plan, base);

        // The owner's suspension, for every fourth brand: a qualification review.
        let suspended = if self.cfg.brands > 1 && index % 4 == 1 {
            let from = self.office_between(self.start + 60 * DAY, self.end - 60 * DAY);
            let until = from + self.rng.range(15, 61) * DAY;
            let line = Line::new("supplier_suspended", "platform", from)
                .s("supplier", &owner_id)
                .s("reason", "qualification review: trademark licence renewal pending")
                .done();
            self.emit(from, line);
            let line = Line::new("supplier_reinstated", "platform", until).s("supplier", &owner_id).done();
            self.emit(until, line);
            Some((from, until))
        } else {
            None
        };
        if let Some(h) = host
            && self.rng.chance(0.5)
        {
            let at = self.office_between(self.start + 60 * DAY, self.end - 30 * DAY);
            let line = Line::new("channel_host_dismissed", &owner_id, at)
                .s("brand", &slug)
                .s("host", &self.parties[h].clone())
                .done();
            self.emit(at, line);
        }

        // 1: the flagship store, run by the owner itself.
        let first_store = self.stores.len() as u32;
        let flagship_open = base + 20 * DAY;
        self.open_store(
            &format!("{slug}-flagship"),
            &owner_id,
            Tier::Flagship,
            &format!("{name} Official Flagship Store"),
            city.1,
            flagship_open,
        );
        self.stores.push(Store {
            id: format!("{slug}-flagship"),
            brand: index,
            tier: Tier::Flagship,
            operator: owner as u32,
            region: city.1,
            open: flagship_open,
            close: None,
            sells_after_close: false,
            leaf: None,
            situation: Situation::Own,
            sourcing: Sourcing::None,
        });
        self.weights.push(0.30);

        // N: Tmall franchise and specialty stores; n: Taobao distribution sellers.
        let n_tmall = spread(&mut self.rng, self.cfg.tmall_stores);
        let n_taobao = spread(&mut self.rng, self.cfg.taobao_sellers);
        let mut tmall_weights = Vec::new();
        for i in 0..n_tmall {
            self.tmall_store(&mut plan, i);
            tmall_weights.push(1.0 / ((i + 1) as f64).sqrt());
        }
        let mut taobao_weights = Vec::new();
        for j in 0..n_taobao {
            self.taobao_store(&mut plan, j);
            taobao_weights.push(1.0 / (j + 1) as f64);
        }
        normalize_into(&mut self.weights, &tmall_weights, 0.35);
        normalize_into(&mut self.weights, &taobao_weights, 0.35);
        // Grey sellers nobody authorized, and a Tmall operator's unauthorized Taobao shop.
        let greys = (n_taobao / 8).max(1);
        for k in 0..greys {
            self.grey_store(&plan, n_taobao + k);
            self.weights.push(0.0);
        }
        let sibling = (first_store + 1..self.stores.len() as u32).find(|&s| {
            let s = &self.stores[s as usize];
            s.tier.is_tmall() && s.situation == Situation::Authorized && s.sourcing == Sourcing::Always
        });
        if let Some(sibling) = sibling {
            self.wrong_channel_store(&plan, n_taobao + greys, sibling as usize);
            self.weights.push(0.0);
        }

        // Brand weight: a few large brands, a long tail of small ones.
        let brand_weight = (0.5 + self.rng.unit()) / ((index + 1) as f64).sqrt();
        for w in &mut self.weights[first_store as usize..] {
            *w *= brand_weight;
        }
        let end_store = self.stores.len() as u32;
        self.brands.push(Brand {
            slug: slug.clone(),
            skus,
            suspended,
            flagship: first_store,
            first_store,
            end_store,
        });

        // A supplier that applies, pays its margin, and is expelled for forged papers.
        if self.rng.chance(0.15) {
            let city = CITIES[self.rng.index(CITIES.len())];
            let id = format!("sup-{slug}-applicant");
            let word = TRADE_WORDS[self.rng.index(TRADE_WORDS.len())];
            let at = base + 40 * DAY;
            self.supplier(at, &id, &format!("{} {word} Trading Co., Ltd.", city.0), city.2, None);
            let from = self.office_between(self.start + 30 * DAY, self.end - 120 * DAY);
            let line = Line::new("supplier_suspended", "platform", from)
                .s("supplier", &id)
                .s("reason", "qualification review: brand authorization letter could not be verified")
                .done();
            self.emit(from, line);
            let line = Line::new("supplier_expelled", "platform", from + 20 * DAY)
                .s("supplier", &id)
                .s("reason", "forged brand authorization letter")
                .done();
            self.emit(from + 20 * DAY, line);
            let line = Line::new("margin_deducted", "platform", from + 21 * DAY)
                .s("supplier", &id)
                .money("amount", 500_000)
                .s("reason", "penalty for forged qualification documents")
                .done();
            self.emit(from + 21 * DAY, line);
            let line = Line::new("margin_refunded", "platform", from + 40 * DAY)
                .s("supplier", &id)
                .money("amount", 1_000_000)
                .done();
            self.emit(from + 40 * DAY, line);
        }
    }

    /// Agents with sublicensable root grants, and sub-agents under some of them.
    fn agents(&mut self, plan: &mut BrandPlan, base: i64) {
        let owner_id = self.parties[plan.owner].clone();
        let n_agents = self.rng.between(2, 4) as usize;
        let area_offset = self.rng.index(AREAS.len());
        for a in 0..n_agents {
            // Agent 0 is national; the others each have a sales area.
            let (area_name, regions): (&'static str, Option<Vec<u8>>) = if a == 0 {
                ("National", None)
            } else {
                let (area, provinces) = AREAS[(area_offset + a) % AREAS.len()];
                (area, Some(provinces.to_vec()))
            };
            let city = match &regions {
                Some(list) => city_in(&mut self.rng, list),
                None => CITIES[self.rng.index(CITIES.len())],
            };
            let id = format!("{}-ag{a}", plan.slug);
            let at = base + (6 * DAY) + a as i64 * HOUR;
            let letter = format!("BA-{}-{a}", plan.slug.to_uppercase());
            self.supplier(
                at,
                &id,
                &format!("{area_name} {} {} Distribution Co., Ltd.", plan.name, plan.domain.word),
                city.2,
                Some(("brand_authorization", letter)),
            );
            let agent = self.party(id.clone());
            let scope = if a > 0 && self.rng.chance(0.2) {
                Scope::Categories(1 << self.rng.below(3))
            } else {
                Scope::All
            };
            let issued = base + 10 * DAY + a as i64 * HOUR;
            let grant = GrantPlan {
                id: format!("g-{}-a{a}", plan.slug),
                grantee: agent,
                scope,
                regions,
                valid_from: issued,
                valid_until: self.end + 2 * 365 * DAY,
            };
            let actor = match plan.host {
                Some(h) if self.rng.chance(0.5) => self.parties[h].clone(),
                _ => owner_id.clone(),
            };
            let g =
                self.issue(plan, &actor, plan.owner, None, grant, issued, &CHANNELS_OF_AGENTS, true, false);
            plan.agents.push((agent, g, area_name));
            // A margin penalty now and then: never below the minimum (deposits are 3x it).
            if self.rng.chance(0.25) {
                let at = self.office_between(self.start + 30 * DAY, self.end - 30 * DAY);
                let amount = self.rng.between(5, 20) as i64 * 10_000;
                let line = Line::new("margin_deducted", "platform", at)
                    .s("supplier", &id)
                    .money("amount", amount)
                    .s("reason", "penalty: late shipment of consigned goods")
                    .done();
                self.emit(at, line);
            }
        }
        // Sub-agents (third level): Taobao wholesalers under some agents.
        for a in 0..plan.agents.len() {
            let subs = self.rng.between(0, 2) as usize;
            for k in 0..subs {
                let (agent, parent, _) = plan.agents[a];
                let parent_regions = self.plans[parent].regions.clone();
                let regions = match parent_regions {
                    Some(list) => subset(&mut self.rng, &list, 2),
                    None => {
                        let (_, provinces) = AREAS[self.rng.index(AREAS.len())];
                        subset(&mut self.rng, provinces, 2)
                    }
                };
                let city = city_in(&mut self.rng, &regions);
                let id = format!("{}-ag{a}-{}", plan.slug, k + 1);
                let at = base + 11 * DAY + (a * 3 + k) as i64 * HOUR;
                let word = TRADE_WORDS[self.rng.index(TRADE_WORDS.len())];
                let letter = format!("BA-{}-{a}-{}", plan.slug.to_uppercase(), k + 1);
                self.supplier(
                    at,
                    &id,
                    &format!("{} {word} {} Trading Co., Ltd.", city.0, plan.domain.word),
                    city.2,
                    Some(("brand_authorization", letter)),
                );
                let party = self.party(id.clone());
                let parent_scope = self.plans[parent].scope.clone();
                let scope = if self.rng.chance(0.7) {
                    parent_scope
                } else {
                    Scope::Categories(1 << self.pick_category(&parent_scope))
                };
                let issued = base + 15 * DAY + (a * 3 + k) as i64 * HOUR;
                let grant = GrantPlan {
                    id: format!("g-{}-a{a}s{}", plan.slug, k + 1),
                    grantee: party,
                    scope,
                    regions: Some(regions),
                    valid_from: issued,
                    valid_until: self.end + 2 * 365 * DAY - DAY,
                };
                let agent_id = self.parties[agent].clone();
                let g =
                    self.issue(plan, &agent_id, agent, Some(parent), grant, issued, &["taobao"], true, false);
                plan.subagents.push((party, g, a));
            }
        }
        // Some brands revoke a sub-agent: every seller under it loses its authorization.
        if !plan.subagents.is_empty() && self.rng.chance(0.5) {
            let s = self.rng.index(plan.subagents.len());
            let at = self.office_between(self.start + 120 * DAY, self.end - 60 * DAY);
            plan.revoked_subagent = Some((s, at));
            let (_, grant, a) = plan.subagents[s];
            let agent_id = self.parties[plan.agents[a].0].clone();
            let line = Line::new("grant_revoked", &agent_id, at)
                .s("grant", &self.plans[grant].id.clone())
                .s("reason", "sub-agent supplied sellers outside its territory")
                .done();
            self.emit(at, line);
        }
    }

    /// A category the scope covers.
    fn pick_category(&mut self, scope: &Scope) -> u8 {
        match scope {
            Scope::Categories(bits) => {
                let covered: Vec<u8> = (0..3).filter(|c| bits & (1 << c) != 0).collect();
                *self.rng.pick(&covered)
            }
            _ => self.rng.below(3) as u8,
        }
    }

    /// Writes `grant_issued` at `issued` (written at `written`, later when backdated) and
    /// keeps its plan; returns its index.
    #[allow(clippy::too_many_arguments)]
    fn issue(
        &mut self,
        plan: &BrandPlan,
        actor: &str,
        grantor: usize,
        parent: Option<usize>,
        grant: GrantPlan,
        issued: i64,
        channels: &[&str],
        sublicensable: bool,
        exclusive: bool,
    ) -> usize {
        self.issue_written(
            plan,
            actor,
            grantor,
            parent,
            grant,
            issued,
            issued,
            channels,
            sublicensable,
            exclusive,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn issue_written(
        &mut self,
        plan: &BrandPlan,
        actor: &str,
        grantor: usize,
        parent: Option<usize>,
        grant: GrantPlan,
        issued: i64,
        written: i64,
        channels: &[&str],
        sublicensable: bool,
        exclusive: bool,
    ) -> usize {
        if let Some(p) = parent {
            // The rules of sub-grants, asserted at the source (spec/events.md rule 5).
            let p = &self.plans[p];
            debug_assert!(grant.scope.within(&p.scope, &plan.sku_categories), "{} scope", grant.id);
            debug_assert!(
                grant.valid_from >= p.valid_from && grant.valid_until <= p.valid_until,
                "{}",
                grant.id
            );
            debug_assert!(match (&grant.regions, &p.regions) {
                (_, None) => true,
                (None, Some(_)) => false,
                (Some(inner), Some(outer)) => inner.iter().all(|r| outer.contains(r)),
            });
        }
        let mut line = Line::new("grant_issued", actor, issued)
            .s("grant", &grant.id)
            .s("brand", &plan.slug)
            .s("grantor", &self.parties[grantor].clone())
            .s("grantee", &self.parties[grant.grantee].clone());
        if let Some(p) = parent {
            line = line.s("parent", &self.plans[p].id.clone());
        }
        line = line
            .raw("scope", &self.scope_json(plan, &grant.scope))
            .strs("channels", channels.iter().copied());
        if let Some(regions) = &grant.regions {
            line = line.strs("regions", regions.iter().map(|&r| PROVINCES[r as usize].0));
        }
        let line = line
            .b("exclusive", exclusive)
            .b("sublicensable", sublicensable)
            .t("valid_from", grant.valid_from)
            .t("valid_until", grant.valid_until)
            .done();
        self.emit(written, line);
        self.plans.push(grant);
        self.plans.len() - 1
    }

    fn scope_json(&self, plan: &BrandPlan, scope: &Scope) -> Vec<u8> {
        match scope {
            Scope::All => b"{}".to_vec(),
            Scope::Categories(bits) => {
                let cats: Vec<String> = (0..3)
                    .filter(|c| bits & (1 << c) != 0)
                    .map(|c| format!("\"{}\"", plan.domain.categories[c].0))
                    .collect();
                format!("{{\"categories\":[{}]}}", cats.join(",")).into_bytes()
            }
            Scope::Skus(list) => {
                let skus: Vec<String> =
                    list.iter().map(|&s| format!("\"{}\"", plan.sku_ids[s as usize])).collect();
                format!("{{\"skus\":[{}]}}", skus.join(",")).into_bytes()
            }
        }
    }

    fn open_store(&mut self, id: &str, operator: &str, tier: Tier, name: &str, region: u8, at: i64) {
        self.shop_serial += 1;
        let shop_id = 100_000_000 + self.shop_serial * 7_919 % 900_000_000;
        let line = Line::new("store_opened", "platform", at)
            .s("store", id)
            .s("operator", operator)
            .s("channel", tier.channel())
            .s("name", name)
            .s("region", PROVINCES[region as usize].0)
            .s("platform_shop_id", &shop_id.to_string())
            .done();
        self.emit(at, line);
    }

    /// When a store opens: in the setup window before the sales, or during the history.
    /// Stores built as a case open early enough for their case to play out.
    fn open_time(&mut self, plan: &BrandPlan, at_setup: bool, latest: i64) -> i64 {
        let setup_until = self.start - 5 * DAY;
        let t = if at_setup || latest <= self.start + DAY {
            self.rng.range(plan.setup_from, setup_until.min(latest).max(plan.setup_from + DAY))
        } else {
            self.rng.range(self.start, latest)
        };
        self.office_hours(t)
    }

    /// The case of the next authorized distributor store (`None`: a clean one).
    fn next_case(&mut self, plan: &mut BrandPlan, direct: bool) -> Option<Case> {
        if !self.rng.chance(CASE_SHARE) {
            return None;
        }
        loop {
            let case = CASES[plan.case_cursor % CASES.len()];
            plan.case_cursor += 1;
            // The owner's own acts all happen at setup: a grant it issues is never late.
            if direct && matches!(case, Case::NotYetValidLate | Case::Backdated) {
                continue;
            }
            return Some(case);
        }
    }

    fn leaf_scope(&mut self, plan: &BrandPlan, parent: &Scope) -> Scope {
        let roll = self.rng.unit();
        if roll < 0.65 {
            return parent.clone();
        }
        let category = self.pick_category(parent);
        if roll < 0.85 {
            return Scope::Categories(1 << category);
        }
        let mut candidates = plan.setup_skus[category as usize].clone();
        let n = (self.rng.between(2, 3) as usize).min(candidates.len());
        for i in (1..candidates.len()).rev() {
            let j = self.rng.index(i + 1);
            candidates.swap(i, j);
        }
        candidates.truncate(n);
        candidates.sort_unstable();
        Scope::Skus(candidates)
    }

    fn tmall_store(&mut self, plan: &mut BrandPlan, i: u32) {
        let tier = if self.rng.chance(0.6) { Tier::Franchise } else { Tier::Specialty };
        // Directly authorized by the owner (a one-grant chain), or through an agent (two).
        let parent =
            if self.rng.chance(0.4) { None } else { Some(plan.agents[self.rng.index(plan.agents.len())]) };
        let case = self.next_case(plan, parent.is_none());
        let parent_regions = parent.and_then(|(_, g, _)| self.plans[g].regions.clone());
        let city = match &parent_regions {
            Some(list) => city_in(&mut self.rng, list),
            None => CITIES[self.rng.index(CITIES.len())],
        };
        let operator_id = format!("{}-op{:02}", plan.slug, i + 1);
        let word = TRADE_WORDS[self.rng.index(TRADE_WORDS.len())];
        let legal = format!("{} {word} Trading Co., Ltd.", city.0);
        let store_id = format!("{}-tm{:02}", plan.slug, i + 1);
        let name = match tier {
            Tier::Franchise => format!("{} {} Franchise Store", plan.name, city.0),
            _ => format!("{} {word} {} Specialty Store", city.0, plan.domain.word),
        };
        let at_setup = parent.is_none() || self.rng.chance(0.6);
        let latest = if case.is_some() { self.end - 240 * DAY } else { self.end - 120 * DAY };
        let open = self.open_time(plan, at_setup, latest);
        let code = self.credit_code(city.2);
        self.register(open - 30 * DAY, &operator_id, &legal, Some(&code));
        let operator = self.party(operator_id.clone());
        let (grantor, parent_grant) = match parent {
            Some((agent, g, _)) => (agent, Some(g)),
            None => (plan.owner, None),
        };
        let parent_scope = parent_grant.map_or(Scope::All, |g| self.plans[g].scope.clone());
        let scope = self.leaf_scope(plan, &parent_scope);
        let exclusive = tier == Tier::Franchise && case.is_none() && !plan.exclusive_given;
        plan.exclusive_given |= exclusive;
        let spec = StoreSpec {
            id: store_id,
            name,
            tier,
            operator,
            grantor,
            parent: parent_grant,
            scope,
            regions: parent_regions,
            region: city.1,
            open,
            case,
            exclusive,
            cascade: None,
        };
        self.distributor_store(plan, spec);
    }

    fn taobao_store(&mut self, plan: &mut BrandPlan, j: u32) {
        // Under an agent (two grants) or a sub-agent (three).
        let under_sub = !plan.subagents.is_empty() && self.rng.chance(0.5);
        let (grantor, parent, cascade) = if under_sub {
            let s = self.rng.index(plan.subagents.len());
            let (party, g, _) = plan.subagents[s];
            let cascade = plan.revoked_subagent.filter(|(r, _)| *r == s).map(|(_, at)| at);
            (party, g, cascade)
        } else {
            let (party, g, _) = plan.agents[self.rng.index(plan.agents.len())];
            (party, g, None)
        };
        let case = match cascade {
            Some(_) => None,
            None => self.next_case(plan, false),
        };
        let regions = match self.plans[parent].regions.clone() {
            Some(list) => subset(&mut self.rng, &list, 1).into_iter().take(3).collect::<Vec<u8>>(),
            None => {
                let (_, provinces) = AREAS[self.rng.index(AREAS.len())];
                subset(&mut self.rng, provinces, 1).into_iter().take(3).collect()
            }
        };
        let surname = SURNAMES[self.rng.index(SURNAMES.len())];
        let given = GIVEN_NAMES[self.rng.index(GIVEN_NAMES.len())];
        let operator_id = format!("{}-s{:03}", plan.slug, j + 1);
        let company = self.rng.chance(0.3);
        let store_id = format!("{}-tb{:03}", plan.slug, j + 1);
        let name = format!("{surname} {given} {} Shop", plan.domain.word);
        let latest = match (cascade, case) {
            (Some(revoked), _) => revoked - 45 * DAY,
            (None, Some(_)) => self.end - 240 * DAY,
            (None, None) => self.end - 120 * DAY,
        };
        let at_setup = self.rng.chance(0.5);
        let open = self.open_time(plan, at_setup, latest);
        let region = regions[0];
        if company {
            let city = city_in(&mut self.rng, &regions);
            let code = self.credit_code(city.2);
            let legal = format!("{} {surname} {given} E-commerce Co., Ltd.", city.0);
            self.register(open - 30 * DAY, &operator_id, &legal, Some(&code));
        } else {
            self.register(
                open - 30 * DAY,
                &operator_id,
                &format!("{surname} {given} {} Shop", plan.domain.word),
                None,
            );
        }
        let operator = self.party(operator_id);
        let parent_scope = self.plans[parent].scope.clone();
        let scope = self.leaf_scope(plan, &parent_scope);
        let spec = StoreSpec {
            id: store_id,
            name,
            tier: Tier::Taobao,
            operator,
            grantor,
            parent: Some(parent),
            scope,
            regions: Some(regions),
            region,
            open,
            case,
            exclusive: false,
            cascade,
        };
        self.distributor_store(plan, spec);
    }

    /// An authorized distributor's store: operator registered, leaf grant, store, agreement,
    /// and the events of its case.
    fn distributor_store(&mut self, plan: &BrandPlan, spec: StoreSpec) {
        let open = spec.open;
        let from = open.max(self.start);
        let case_time = |b: &mut Self, after: i64| b.office_between(from + after * DAY, b.end - 30 * DAY);
        let mut issued = open - 14 * DAY;
        let mut written = issued;
        let mut valid_from = issued;
        let mut valid_until = self.end + 365 * DAY;
        let mut situation = Situation::Authorized;
        let mut sourcing = Sourcing::Always;
        let mut close = None;
        let mut sells_after_close = false;
        let mut agreement_until = self.end + 365 * DAY;
        let mut terminate_at = None;
        let mut revoke_at = None;
        if let Some(at) = spec.cascade {
            situation = Situation::Revoked { at, cascade: true };
        }
        match spec.case {
            None => {}
            Some(Case::Expires) => {
                let at = case_time(self, 45);
                valid_until = at;
                situation = Situation::Expires { at };
            }
            Some(Case::Revoked) => {
                let at = case_time(self, 45);
                revoke_at = Some(at);
                situation = Situation::Revoked { at, cascade: false };
            }
            Some(Case::NotYetValidEarly) => {
                let at = {
                    let days = self.rng.range(20, 90);
                    self.office_hours(from + days * DAY)
                };
                valid_from = at;
                situation = Situation::NotYetValid { from: at, late: false };
            }
            Some(Case::NotYetValidLate) => {
                let at = {
                    let days = self.rng.range(20, 90);
                    self.office_hours(from + days * DAY)
                };
                issued = at;
                written = at;
                valid_from = at;
                situation = Situation::NotYetValid { from: at, late: true };
            }
            Some(Case::Backdated) => {
                let at = {
                    let days = self.rng.range(20, 120);
                    self.office_hours(from + days * DAY)
                };
                issued = open - 2 * DAY;
                valid_from = issued;
                written = at;
                situation = Situation::Backdated { recorded: at };
            }
            Some(Case::ClosedSelling) => {
                close = Some(case_time(self, 45));
                sells_after_close = true;
            }
            Some(Case::NoAgreement) => sourcing = Sourcing::None,
            Some(Case::AgreementTerminated) => {
                let at = case_time(self, 45);
                terminate_at = Some(at);
                sourcing = Sourcing::Until(at);
            }
            Some(Case::AgreementLapsed) => {
                let at = case_time(self, 45);
                agreement_until = at;
                sourcing = Sourcing::Until(at);
            }
        }
        // Ordinary churn: a few clean stores close for good.
        if spec.case.is_none()
            && spec.cascade.is_none()
            && self.rng.chance(0.06)
            && from + 90 * DAY < self.end - 10 * DAY
        {
            close = Some(self.office_between(from + 90 * DAY, self.end - 10 * DAY));
        }
        // A revoked store is often closed by the platform afterwards, and some sell on.
        if let Situation::Revoked { at, .. } = situation
            && self.rng.chance(0.6)
        {
            let c = at + self.rng.range(7, 46) * DAY;
            if c < self.end - 3 * DAY {
                close = Some(c);
                sells_after_close = self.rng.chance(0.4);
            }
        }

        let operator_id = self.parties[spec.operator].clone();
        let grantor_id = self.parties[spec.grantor].clone();
        let owner_id = self.parties[plan.owner].clone();
        let direct = spec.parent.is_none();
        let actor = match plan.host {
            Some(h) if direct && self.rng.chance(0.5) => self.parties[h].clone(),
            _ => grantor_id.clone(),
        };
        let grant = GrantPlan {
            id: format!("g-{}", spec.id),
            grantee: spec.operator,
            scope: spec.scope.clone(),
            regions: spec.regions.clone(),
            valid_from,
            valid_until,
        };
        let leaf = self.issue_written(
            plan,
            &actor,
            spec.grantor,
            spec.parent,
            grant,
            issued,
            written,
            &[spec.tier.channel()],
            false,
            spec.exclusive,
        );
        self.open_store(&spec.id, &operator_id, spec.tier, &spec.name, spec.region, open);
        if sourcing != Sourcing::None {
            let signed = open - 7 * DAY;
            let mode = if self.rng.chance(0.4) { "consignment" } else { "wholesale" };
            let signer = match plan.host {
                Some(h) if direct && self.rng.chance(0.5) => self.parties[h].clone(),
                _ => grantor_id.clone(),
            };
            let agreement = format!("agr-{}", spec.id);
            let line = Line::new("agreement_signed", &signer, signed)
                .s("agreement", &agreement)
                .s("supplier", &grantor_id)
                .s("distributor", &operator_id)
                .s("brand", &plan.slug)
                .s("mode", mode)
                .raw("scope", &self.scope_json(plan, &spec.scope))
                .t("valid_from", signed)
                .t("valid_until", agreement_until)
                .done();
            self.emit(signed, line);
            if let Some(at) = terminate_at {
                let (actor, reason) = if self.rng.chance(0.5) {
                    (operator_id.clone(), "distributor ended the supply relationship")
                } else {
                    (grantor_id.clone(), "supplier ended supply: payment overdue")
                };
                let line = Line::new("agreement_terminated", &actor, at)
                    .s("agreement", &agreement)
                    .s("reason", reason)
                    .done();
                self.emit(at, line);
            }
        }
        if let Some(at) = revoke_at {
            let actor = if direct { owner_id.clone() } else { grantor_id.clone() };
            let line = Line::new("grant_revoked", &actor, at)
                .s("grant", &format!("g-{}", spec.id))
                .s("reason", "repeated sales below the price floor")
                .done();
            self.emit(at, line);
        }
        if let Some(at) = close {
            let line = Line::new("store_closed", "platform", at)
                .s("store", &spec.id)
                .s(
                    "reason",
                    if sells_after_close {
                        "suspended for rule violations"
                    } else {
                        "shop closed by its operator"
                    },
                )
                .done();
            self.emit(at, line);
        }
        self.stores.push(Store {
            id: spec.id,
            brand: plan.index,
            tier: spec.tier,
            operator: spec.operator as u32,
            region: spec.region,
            open,
            close,
            sells_after_close,
            leaf: Some(leaf as u32),
            situation,
            sourcing,
        });
    }

    /// A Taobao seller nobody authorized.
    fn grey_store(&mut self, plan: &BrandPlan, j: u32) {
        let surname = SURNAMES[self.rng.index(SURNAMES.len())];
        let given = GIVEN_NAMES[self.rng.index(GIVEN_NAMES.len())];
        let operator_id = format!("{}-s{:03}", plan.slug, j + 1);
        let store_id = format!("{}-tb{:03}", plan.slug, j + 1);
        let region = weighted_province(&mut self.rng);
        let open = self.office_between(self.start - 60 * DAY, self.end - 90 * DAY);
        // Named like any other seller: nothing in a grey seller's name gives it away.
        let name = format!("{surname} {given} {} Shop", plan.domain.word);
        self.register(open - 10 * DAY, &operator_id, &name, None);
        self.open_store(&store_id, &operator_id, Tier::Taobao, &name, region, open);
        let operator = self.party(operator_id) as u32;
        let from = open.max(self.start);
        let mut close = None;
        let mut sells_after_close = false;
        if self.rng.chance(0.4) && from + 60 * DAY < self.end - 10 * DAY {
            let at = self.office_between(from + 60 * DAY, self.end - 10 * DAY);
            close = Some(at);
            sells_after_close = self.rng.chance(0.3);
            let line = Line::new("store_closed", "platform", at)
                .s("store", &store_id)
                .s("reason", "counterfeit complaints")
                .done();
            self.emit(at, line);
        }
        self.stores.push(Store {
            id: store_id,
            brand: plan.index,
            tier: Tier::Taobao,
            operator,
            region,
            open,
            close,
            sells_after_close,
            leaf: None,
            situation: Situation::NoGrant,
            sourcing: Sourcing::None,
        });
    }

    /// A Taobao shop opened by the operator of the brand's authorized Tmall store `sibling`,
    /// whose grant covers only its Tmall channel.
    fn wrong_channel_store(&mut self, plan: &BrandPlan, j: u32, sibling: usize) {
        let sib = self.stores[sibling].clone();
        let operator_id = self.parties[sib.operator as usize].clone();
        let store_id = format!("{}-tb{:03}", plan.slug, j + 1);
        let from = sib.open.max(self.start) + 30 * DAY;
        let open = self.office_between(from, (self.end - 120 * DAY).max(from + DAY));
        let name = format!("{} Direct {} Shop", plan.name, plan.domain.word);
        self.open_store(&store_id, &operator_id, Tier::Taobao, &name, sib.region, open);
        self.stores.push(Store {
            id: store_id,
            brand: plan.index,
            tier: Tier::Taobao,
            operator: sib.operator,
            region: sib.region,
            open,
            close: None,
            sells_after_close: false,
            leaf: sib.leaf,
            situation: Situation::WrongChannel,
            sourcing: Sourcing::None,
        });
    }

    fn finish(mut self) -> World {
        // Events in writing order; equal times keep the order they were made in (a party
        // before what refers to it).
        self.events.sort_by_key(|(at, order, _)| (*at, *order));
        let mut text = Vec::with_capacity(self.events.iter().map(|e| e.2.len()).sum());
        let mut events = Vec::with_capacity(self.events.len());
        for (at, _, line) in self.events {
            text.extend_from_slice(&line);
            events.push((at, text.len()));
        }
        let grants: Vec<Grant> =
            self.plans.into_iter().map(|p| Grant { scope: p.scope, regions: p.regions }).collect();
        let mut cumulative = Vec::with_capacity(self.weights.len());
        let mut sum = 0.0;
        for w in &self.weights {
            sum += w;
            cumulative.push(sum);
        }
        let mut lists = Lists::default();
        for (i, s) in self.stores.iter().enumerate() {
            let i = i as u32;
            let brand = &self.brands[s.brand as usize];
            match s.situation {
                Situation::NoGrant => lists.no_grant.push(i),
                Situation::WrongChannel => lists.wrong_channel.push(i),
                Situation::Expires { .. } => lists.expires.push(i),
                Situation::Revoked { .. } => lists.revoked.push(i),
                Situation::NotYetValid { .. } => lists.not_yet_valid.push(i),
                Situation::Backdated { .. } => lists.backdated.push(i),
                Situation::Own | Situation::Authorized => {}
            }
            if s.sourcing != Sourcing::Always
                && !matches!(s.situation, Situation::NoGrant | Situation::WrongChannel | Situation::Own)
            {
                lists.unverified.push(i);
            }
            if s.sells_after_close && s.situation == Situation::Authorized {
                lists.closed_selling.push(i);
            }
            if let (
                Some(leaf),
                Situation::Authorized
                | Situation::Expires { .. }
                | Situation::Revoked { .. }
                | Situation::NotYetValid { .. }
                | Situation::Backdated { .. },
            ) = (s.leaf, s.situation)
            {
                let g = &grants[leaf as usize];
                if brand.skus.iter().enumerate().any(|(k, sku)| !g.scope.covers(k, sku.category)) {
                    lists.scoped.push(i);
                }
                if g.regions.is_some() {
                    lists.regional.push(i);
                }
            }
        }
        World {
            start: self.start,
            end: self.end,
            last: self.end + 25 * DAY,
            brands: self.brands,
            stores: self.stores,
            grants,
            text,
            events,
            cumulative,
            lists,
        }
    }
}

struct StoreSpec {
    id: String,
    name: String,
    tier: Tier,
    operator: usize,
    grantor: usize,
    parent: Option<usize>,
    scope: Scope,
    regions: Option<Vec<u8>>,
    region: u8,
    open: i64,
    case: Option<Case>,
    exclusive: bool,
    /// The time the sub-agent above is revoked, for a store under it.
    cascade: Option<i64>,
}

/// A count around `mean`: uniform in `[mean/2, 3*mean/2]`, at least one when `mean > 0`.
fn spread(rng: &mut Rng, mean: u32) -> u32 {
    if mean == 0 {
        return 0;
    }
    rng.between(u64::from((mean / 2).max(1)), u64::from(mean + mean / 2)) as u32
}

/// Appends `weights` scaled to sum to `share`.
fn normalize_into(out: &mut Vec<f64>, weights: &[f64], share: f64) {
    let sum: f64 = weights.iter().sum();
    out.extend(weights.iter().map(|w| if sum > 0.0 { w / sum * share } else { 0.0 }));
}

/// A random subset of `items` of at least `min` items (all of them if fewer), in random order.
fn subset(rng: &mut Rng, items: &[u8], min: usize) -> Vec<u8> {
    let mut v = items.to_vec();
    for i in (1..v.len()).rev() {
        let j = rng.index(i + 1);
        v.swap(i, j);
    }
    let min = min.min(v.len());
    let n = rng.between(min as u64, v.len() as u64) as usize;
    v.truncate(n);
    v
}

/// A city in one of `provinces`: a listed city of the province, else its capital.
fn city_in(rng: &mut Rng, provinces: &[u8]) -> (&'static str, u8, &'static str) {
    let p = provinces[rng.index(provinces.len())];
    let inside: Vec<_> = CITIES.iter().filter(|c| c.1 == p).copied().collect();
    match inside.is_empty() {
        true => (PROVINCE_SEATS[p as usize].0, p, PROVINCE_SEATS[p as usize].1),
        false => inside[rng.index(inside.len())],
    }
}

/// A province weighted by where buyers are.
pub fn weighted_province(rng: &mut Rng) -> u8 {
    let total: u32 = PROVINCES.iter().map(|p| p.1).sum();
    let mut x = rng.below(u64::from(total)) as u32;
    for (i, (_, w)) in PROVINCES.iter().enumerate() {
        if x < *w {
            return i as u8;
        }
        x -= w;
    }
    0
}

fn time_string(t: i64) -> String {
    let mut v = Vec::new();
    push_time(&mut v, t);
    String::from_utf8(v).expect("ASCII")
}
