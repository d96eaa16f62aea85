//! Synthetic planning instances of any size, for benchmarks and tests.
//!
//! The distributions are those the reference instances were drawn from: companies in
//! the Volga automotive belt with a heavy-tailed number of requests each, drawn from
//! the equipment profile of their trade; four kinds of lab (metrology centres, component
//! test centres, research centres, materials labs) with scopes and unit counts by kind;
//! holiday and maintenance weeks; offered hours scaled so that demand is about `load`
//! of capacity per equipment class, some classes tighter than others; and a few
//! confirmed bookings that keep every rule. Everything is synthetic. The same
//! parameters give the same instance on every machine.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::types::{
    Capacity, CapacityOverride, Company, Distance, Equipment, Horizon, INSTANCE_FORMAT, Instance, Lab, Pinned, Region,
    Request, TestType, Weights,
};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenParams {
    pub requests: usize,
    pub companies: usize,
    pub labs: usize,
    pub weeks: u32,
    pub seed: u64,
    /// Demand as a share of capacity per equipment class over the horizon.
    pub load: f64,
    /// Share of requests with a confirmed (pinned) booking.
    pub pinned: f64,
}

impl Default for GenParams {
    fn default() -> Self {
        GenParams { requests: 1300, companies: 102, labs: 40, weeks: 26, seed: 1, load: 0.9, pinned: 0.03 }
    }
}

/// xoshiro256** seeded by SplitMix64: small, fast, and the same on every platform,
/// which a library's generator does not promise across its versions.
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform in [0, 1).
    fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n ≥ 1).
    fn below(&mut self, n: usize) -> usize {
        ((self.f64() * n as f64) as usize).min(n.saturating_sub(1))
    }

    /// Uniform in lo..=hi.
    fn int(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below((hi - lo + 1) as usize) as u32
    }

    fn uniform(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.f64()
    }

    fn choice<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len())]
    }

    /// An index drawn with the given weights.
    fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f64() * total;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// Pareto with shape `alpha` and minimum 1.
    fn pareto(&mut self, alpha: f64) -> f64 {
        (1.0 - self.f64()).powf(-1.0 / alpha)
    }

    /// `k` distinct indices of 0..n in random order.
    fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        for i in 0..k.min(n) {
            let j = i + self.below(n - i);
            v.swap(i, j);
        }
        v.truncate(k.min(n));
        v
    }
}

/// ISO 3166-2 code, name, English name, latitude and longitude of the main industrial city.
const REGIONS: &[(&str, &str, &str, f64, f64)] = &[
    ("RU-SAM", "Самарская область", "Samara Oblast", 53.51, 49.42),
    ("RU-ULY", "Ульяновская область", "Ulyanovsk Oblast", 54.32, 48.40),
    ("RU-TA", "Республика Татарстан", "Republic of Tatarstan", 55.74, 52.40),
    ("RU-NIZ", "Нижегородская область", "Nizhny Novgorod Oblast", 56.33, 44.00),
    ("RU-KLU", "Калужская область", "Kaluga Oblast", 54.51, 36.26),
    ("RU-MOS", "Московская область", "Moscow Oblast", 56.34, 37.52),
    ("RU-MOW", "Москва", "Moscow", 55.75, 37.62),
    ("RU-SPE", "Санкт-Петербург", "Saint Petersburg", 59.93, 30.34),
    ("RU-LEN", "Ленинградская область", "Leningrad Oblast", 59.57, 30.13),
    ("RU-CHE", "Челябинская область", "Chelyabinsk Oblast", 55.16, 61.40),
    ("RU-VLA", "Владимирская область", "Vladimir Oblast", 56.13, 40.41),
    ("RU-YAR", "Ярославская область", "Yaroslavl Oblast", 57.63, 39.87),
    ("RU-KGD", "Калининградская область", "Kaliningrad Oblast", 54.71, 20.51),
    ("RU-TUL", "Тульская область", "Tula Oblast", 54.19, 37.62),
    ("RU-LIP", "Липецкая область", "Lipetsk Oblast", 52.61, 39.59),
    ("RU-PNZ", "Пензенская область", "Penza Oblast", 53.20, 45.00),
    ("RU-BA", "Республика Башкортостан", "Republic of Bashkortostan", 54.74, 55.97),
    ("RU-PER", "Пермский край", "Perm Krai", 58.01, 56.23),
    ("RU-SVE", "Свердловская область", "Sverdlovsk Oblast", 56.84, 60.60),
    ("RU-UD", "Удмуртская Республика", "Udmurt Republic", 56.85, 53.20),
    ("RU-MO", "Республика Мордовия", "Republic of Mordovia", 54.18, 45.18),
    ("RU-CU", "Чувашская Республика", "Chuvash Republic", 56.15, 47.25),
    ("RU-ROS", "Ростовская область", "Rostov Oblast", 47.24, 38.90),
];

/// Code, name, English name, and the hours one test may use in one week (chambers run
/// around the clock; attended rigs do not).
const EQUIPMENT: &[(&str, &str, &str, f64)] = &[
    ("CLIM", "Климатическая камера", "Climatic chamber", 168.0),
    ("SALT", "Камера соляного тумана", "Salt fog chamber", 168.0),
    ("UV", "Камера ксеноновой / УФ-экспозиции", "Xenon arc / UV weathering chamber", 168.0),
    ("VIB", "Электродинамический вибростенд", "Electrodynamic vibration shaker", 80.0),
    ("EMC", "Безэховая камера ЭМС", "EMC anechoic chamber", 40.0),
    ("PHOT", "Фотометрический гониометр", "Photometric goniometer", 40.0),
    ("BRAKE", "Инерционный тормозной стенд", "Brake inertia dynamometer", 120.0),
    ("UTM", "Универсальная испытательная машина", "Universal testing machine", 40.0),
    ("IMPACT", "Стенд ударных испытаний", "Sled / impact test rig", 40.0),
    ("ENG", "Моторный стенд", "Engine dynamometer", 120.0),
    ("IP", "Камера пыле- и влагозащиты", "Dust and water ingress chamber", 80.0),
    ("FLAM", "Камера горючести", "Flammability cabinet", 40.0),
    ("PRESS", "Стенд давления и герметичности", "Pressure, burst and leak rig", 80.0),
    ("NOISE", "Акустическая камера", "Acoustic chamber", 40.0),
];

/// Code, standard, English name, name, equipment, hours of equipment time.
const TEST_TYPES: &[(&str, &str, &str, &str, &str, f64)] = &[
    ("EMC-R10", "UNECE R10", "Electromagnetic compatibility of ESA", "ЭМС электронных узлов", "EMC", 60.0),
    (
        "EMC-ISO11452-2",
        "ISO 11452-2",
        "Radiated immunity, absorber-lined chamber",
        "Устойчивость к излучаемым помехам",
        "EMC",
        40.0,
    ),
    ("EMC-CISPR25", "CISPR 25", "Radio disturbance emissions", "Радиопомехи", "EMC", 24.0),
    (
        "EMC-ISO7637-2",
        "ISO 7637-2",
        "Conducted transients on supply lines",
        "Кондуктивные переходные помехи",
        "EMC",
        16.0,
    ),
    (
        "CLIM-ISO16750-4",
        "ISO 16750-4",
        "Climatic loads for electrical equipment",
        "Климатические воздействия",
        "CLIM",
        500.0,
    ),
    ("CLIM-IEC60068-2-1", "IEC 60068-2-1", "Cold", "Холод", "CLIM", 96.0),
    ("CLIM-IEC60068-2-2", "IEC 60068-2-2", "Dry heat", "Сухое тепло", "CLIM", 168.0),
    ("CLIM-IEC60068-2-78", "IEC 60068-2-78", "Damp heat, steady state", "Влажное тепло", "CLIM", 240.0),
    (
        "CLIM-IEC60068-2-14",
        "IEC 60068-2-14",
        "Change of temperature (thermal shock)",
        "Смена температур",
        "CLIM",
        200.0,
    ),
    ("CLIM-GOST15150", "GOST 15150", "Climatic versions, cycling", "Климатическое исполнение", "CLIM", 336.0),
    ("SALT-ISO9227-240", "ISO 9227 NSS", "Neutral salt spray, 240 h", "Соляной туман, 240 ч", "SALT", 240.0),
    ("SALT-ISO9227-480", "ISO 9227 NSS", "Neutral salt spray, 480 h", "Соляной туман, 480 ч", "SALT", 480.0),
    ("SALT-ISO9227-720", "ISO 9227 NSS", "Neutral salt spray, 720 h", "Соляной туман, 720 ч", "SALT", 720.0),
    (
        "SALT-GOST9.308",
        "GOST 9.308",
        "Accelerated corrosion of coatings",
        "Ускоренные коррозионные испытания",
        "SALT",
        240.0,
    ),
    ("SALT-CYCLIC", "VDA 233-102", "Cyclic corrosion", "Циклическая коррозия", "SALT", 1008.0),
    ("UV-ISO4892-2", "ISO 4892-2", "Xenon-arc weathering of plastics", "Старение пластмасс (ксенон)", "UV", 500.0),
    (
        "UV-ISO105-B06",
        "ISO 105-B06",
        "Colour fastness to artificial light at high temperature",
        "Светостойкость окраски",
        "UV",
        200.0,
    ),
    ("UV-SAEJ2527", "SAE J2527", "Exterior materials weathering", "Старение наружных материалов", "UV", 1000.0),
    ("VIB-ISO16750-3", "ISO 16750-3", "Mechanical loads: vibration", "Механические нагрузки: вибрация", "VIB", 48.0),
    (
        "VIB-IEC60068-2-64",
        "IEC 60068-2-64",
        "Broadband random vibration",
        "Широкополосная случайная вибрация",
        "VIB",
        24.0,
    ),
    ("VIB-IEC60068-2-27", "IEC 60068-2-27", "Shock", "Удар", "VIB", 8.0),
    (
        "VIB-GOST30630",
        "GOST 30630.1",
        "Vibration strength and resistance",
        "Вибропрочность и виброустойчивость",
        "VIB",
        36.0,
    ),
    ("PHOT-R112", "UNECE R112", "Headlamps, asymmetrical beam", "Фары с асимметричным пучком", "PHOT", 24.0),
    ("PHOT-R7", "UNECE R7", "Position, stop and end-outline lamps", "Габаритные и стоп-сигналы", "PHOT", 12.0),
    ("PHOT-R6", "UNECE R6", "Direction indicators", "Указатели поворота", "PHOT", 12.0),
    ("PHOT-R3", "UNECE R3", "Retro-reflecting devices", "Светоотражающие устройства", "PHOT", 16.0),
    ("PHOT-R19", "UNECE R19", "Front fog lamps", "Противотуманные фары", "PHOT", 16.0),
    ("PHOT-R87", "UNECE R87", "Daytime running lamps", "Дневные ходовые огни", "PHOT", 12.0),
    ("PHOT-R128", "UNECE R128", "LED light sources", "Светодиодные источники света", "PHOT", 20.0),
    ("BRAKE-R90", "UNECE R90", "Replacement brake linings", "Сменные тормозные накладки", "BRAKE", 150.0),
    (
        "BRAKE-R13",
        "UNECE R13",
        "Braking, component inertia test",
        "Тормозные механизмы, инерционный стенд",
        "BRAKE",
        120.0,
    ),
    ("BRAKE-GOST-R-41.90", "GOST R 41.90", "Brake lining assemblies", "Тормозные накладки в сборе", "BRAKE", 60.0),
    ("UTM-ISO6892-1", "ISO 6892-1", "Tensile test of metals", "Растяжение металлов", "UTM", 6.0),
    ("UTM-ISO6508", "ISO 6508", "Rockwell hardness", "Твердость по Роквеллу", "UTM", 4.0),
    ("UTM-ISO898-1", "ISO 898-1", "Fastener proof load", "Пробная нагрузка крепежа", "UTM", 8.0),
    ("UTM-R16", "UNECE R16", "Safety-belt webbing and buckles", "Ремни безопасности", "UTM", 24.0),
    ("UTM-R43", "UNECE R43", "Safety glazing, mechanical", "Безопасные стекла, механические", "UTM", 12.0),
    (
        "IMPACT-R17",
        "UNECE R17",
        "Seat strength and head restraints",
        "Прочность сидений и подголовников",
        "IMPACT",
        24.0,
    ),
    ("IMPACT-R129", "UNECE R129", "Child restraint systems, dynamic", "Детские удерживающие системы", "IMPACT", 32.0),
    ("IMPACT-R21", "UNECE R21", "Interior fittings energy absorption", "Внутреннее оборудование", "IMPACT", 16.0),
    ("IMPACT-R14", "UNECE R14", "Safety-belt anchorages", "Места крепления ремней", "IMPACT", 16.0),
    ("ENG-R85", "UNECE R85", "Net engine power", "Мощность двигателя", "ENG", 40.0),
    ("ENG-R24", "UNECE R24", "Diesel smoke opacity", "Дымность дизелей", "ENG", 24.0),
    ("ENG-R49", "UNECE R49", "Heavy-duty emissions", "Выбросы тяжелых двигателей", "ENG", 80.0),
    ("ENG-DURABILITY", "GOST 14846", "Engine bench durability", "Ресурсные стендовые испытания", "ENG", 300.0),
    ("IP-ISO20653", "ISO 20653", "IP6K9K ingress protection", "Степень защиты IP6K9K", "IP", 16.0),
    ("IP-IEC60529", "IEC 60529", "IPX7 immersion", "Степень защиты IPX7", "IP", 8.0),
    (
        "FLAM-ISO3795",
        "ISO 3795 / GOST 25076",
        "Burning rate of interior materials",
        "Скорость горения материалов",
        "FLAM",
        4.0,
    ),
    ("FLAM-R118", "UNECE R118", "Burning behaviour in buses", "Огнестойкость материалов автобусов", "FLAM", 16.0),
    ("PRESS-R34", "UNECE R34", "Fuel tank pressure and leak", "Топливные баки", "PRESS", 24.0),
    ("PRESS-R67", "UNECE R67", "LPG equipment components", "Оборудование для СНГ", "PRESS", 40.0),
    ("PRESS-R110", "UNECE R110", "CNG components", "Оборудование для КПГ", "PRESS", 40.0),
    ("PRESS-SAEJ1401", "SAE J1401", "Hydraulic brake hose burst", "Тормозные шланги", "PRESS", 8.0),
    ("NOISE-R59", "UNECE R59", "Replacement silencing systems", "Сменные системы глушителей", "NOISE", 24.0),
    ("NOISE-R28", "UNECE R28", "Audible warning devices", "Звуковые сигналы", "NOISE", 16.0),
];

/// A company's trade: the equipment classes its products are tested on, with weights.
const PROFILES: &[&[(&str, f64)]] = &[
    &[("PHOT", 6.0), ("CLIM", 2.0), ("VIB", 2.0), ("IP", 2.0), ("EMC", 2.0), ("UV", 1.0)],
    &[("EMC", 6.0), ("CLIM", 3.0), ("VIB", 3.0), ("IP", 2.0), ("SALT", 1.0)],
    &[("UV", 4.0), ("CLIM", 3.0), ("UTM", 2.0), ("FLAM", 3.0), ("SALT", 1.0)],
    &[("SALT", 6.0), ("UTM", 5.0), ("CLIM", 1.0)],
    &[("BRAKE", 6.0), ("SALT", 2.0), ("PRESS", 2.0), ("UTM", 2.0), ("VIB", 1.0)],
    &[("IMPACT", 4.0), ("FLAM", 4.0), ("UTM", 2.0), ("UV", 2.0), ("CLIM", 1.0)],
    &[("ENG", 5.0), ("VIB", 2.0), ("CLIM", 2.0), ("PRESS", 2.0), ("NOISE", 2.0)],
    &[("UTM", 4.0), ("SALT", 3.0), ("UV", 2.0), ("CLIM", 2.0), ("IMPACT", 1.0)],
    &[("PRESS", 6.0), ("SALT", 2.0), ("CLIM", 2.0), ("VIB", 1.0)],
];

/// A kind of lab: name patterns, the units of each class it has (low, high), and the
/// share of the test types its equipment allows that it is accredited for.
struct LabKind {
    name: &'static str,
    name_en: &'static str,
    units: &'static [(&'static str, u32, u32)],
    accredited_share: f64,
}

const LAB_KINDS: &[LabKind] = &[
    LabKind {
        name: "ФБУ «{adj} ЦСМ»",
        name_en: "{en} Centre for Standardization and Metrology",
        units: &[
            ("CLIM", 1, 3),
            ("SALT", 1, 2),
            ("UTM", 1, 2),
            ("VIB", 0, 1),
            ("IP", 0, 1),
            ("FLAM", 0, 1),
            ("UV", 0, 1),
        ],
        accredited_share: 0.75,
    },
    LabKind {
        name: "Испытательный центр «{adj} автокомпонент»",
        name_en: "{en} Automotive Components Test Centre",
        units: &[
            ("EMC", 0, 1),
            ("VIB", 1, 2),
            ("CLIM", 1, 2),
            ("PHOT", 0, 1),
            ("IP", 0, 1),
            ("PRESS", 0, 1),
            ("NOISE", 0, 1),
        ],
        accredited_share: 0.8,
    },
    LabKind {
        name: "Научно-испытательный центр «{adj}»",
        name_en: "{en} Research and Test Centre",
        units: &[
            ("EMC", 1, 1),
            ("BRAKE", 0, 1),
            ("IMPACT", 0, 1),
            ("ENG", 0, 1),
            ("PHOT", 0, 1),
            ("CLIM", 1, 2),
            ("VIB", 1, 1),
            ("NOISE", 0, 1),
        ],
        accredited_share: 0.85,
    },
    LabKind {
        name: "Лаборатория материаловедения «{adj}»",
        name_en: "{en} Materials Laboratory",
        units: &[("UTM", 1, 3), ("UV", 1, 2), ("FLAM", 1, 1), ("SALT", 1, 2), ("CLIM", 0, 1)],
        accredited_share: 0.9,
    },
];

/// Region → (Russian adjective, English place) for lab names.
const ADJ: &[(&str, &str, &str)] = &[
    ("RU-SAM", "Самарский", "Samara"),
    ("RU-ULY", "Ульяновский", "Ulyanovsk"),
    ("RU-TA", "Татарстанский", "Tatarstan"),
    ("RU-NIZ", "Нижегородский", "Nizhny Novgorod"),
    ("RU-KLU", "Калужский", "Kaluga"),
    ("RU-MOS", "Подмосковный", "Moscow Oblast"),
    ("RU-MOW", "Московский", "Moscow"),
    ("RU-SPE", "Петербургский", "Saint Petersburg"),
    ("RU-CHE", "Челябинский", "Chelyabinsk"),
    ("RU-VLA", "Владимирский", "Vladimir"),
    ("RU-YAR", "Ярославский", "Yaroslavl"),
    ("RU-TUL", "Тульский", "Tula"),
    ("RU-SVE", "Уральский", "Ural"),
    ("RU-PNZ", "Пензенский", "Penza"),
    ("RU-BA", "Башкирский", "Bashkortostan"),
    ("RU-PER", "Пермский", "Perm"),
    ("RU-ROS", "Донской", "Don"),
    ("RU-LIP", "Липецкий", "Lipetsk"),
];

const LAB_REGIONS: &[&str] = &[
    "RU-SAM", "RU-SAM", "RU-SAM", "RU-MOS", "RU-MOS", "RU-MOW", "RU-MOW", "RU-SPE", "RU-SPE", "RU-NIZ", "RU-NIZ",
    "RU-TA", "RU-TA", "RU-ULY", "RU-ULY", "RU-CHE", "RU-CHE", "RU-KLU", "RU-VLA", "RU-YAR", "RU-TUL", "RU-SVE",
    "RU-PNZ", "RU-BA", "RU-PER", "RU-ROS", "RU-LIP",
];

/// Company weights by region; the others weigh 1.
const COMPANY_REGIONS: &[(&str, f64)] = &[
    ("RU-SAM", 14.0),
    ("RU-ULY", 5.0),
    ("RU-TA", 6.0),
    ("RU-NIZ", 7.0),
    ("RU-KLU", 4.0),
    ("RU-MOS", 5.0),
    ("RU-MOW", 4.0),
    ("RU-SPE", 4.0),
    ("RU-CHE", 4.0),
    ("RU-VLA", 2.0),
    ("RU-YAR", 2.0),
];

const COMPANY_WORDS: &[&str] = &[
    "Авто",
    "Волга",
    "Техно",
    "Пром",
    "Урал",
    "Комплект",
    "Деталь",
    "Привод",
    "Свет",
    "Электро",
    "Полимер",
    "Металл",
    "Кузов",
    "Агрегат",
    "Механика",
    "Систем",
    "Форм",
    "Резина",
    "Стекло",
    "Литье",
];

/// Base price per hour of a class (the others 1,500 roubles); each lab's is 0.7–1.5 times it.
fn base_price(eq: &str) -> f64 {
    match eq {
        "EMC" => 9000.0,
        "BRAKE" => 7000.0,
        "ENG" => 8000.0,
        "IMPACT" => 12000.0,
        "PHOT" => 5000.0,
        _ => 1500.0,
    }
}

/// Great-circle distance in km.
fn km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let (dp, dl) = (p2 - p1, (b.1 - a.1).to_radians());
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    6371.0 * 2.0 * h.sqrt().asin()
}

fn eq_max(code: &str) -> f64 {
    EQUIPMENT.iter().find(|e| e.0 == code).map_or(40.0, |e| e.3)
}

/// Generates an instance.
pub fn generate(p: &GenParams) -> Instance {
    let mut rng = Rng::new(p.seed);
    let weeks = p.weeks.max(1);
    let companies = companies(&mut rng, p.companies.max(1));
    let mut labs = labs(&mut rng, p.labs);
    let mut overrides = downtime(&mut rng, &labs, weeks);
    let accredited: HashSet<&str> = labs.iter().flat_map(|l| l.accredited.iter().map(String::as_str)).collect();
    let accredited: HashSet<String> = accredited.into_iter().map(str::to_string).collect();
    let requests = requests(&mut rng, &companies, &labs, &accredited, p.requests, weeks);
    scale_capacity(&mut rng, &mut labs, &requests, weeks, p.load);
    let cap: HashMap<(String, String), f64> = labs
        .iter()
        .flat_map(|l| l.capacity.iter().map(|c| ((l.id.clone(), c.equipment.clone()), c.hours_per_week)))
        .collect();
    for o in &mut overrides {
        if let Some(&c) = cap.get(&(o.lab.clone(), o.equipment.clone())) {
            o.hours_per_week = o.hours_per_week.min(c);
        }
    }
    let used: Vec<&str> = {
        let set: HashSet<&str> =
            companies.iter().map(|c| c.0.region.as_str()).chain(labs.iter().map(|l| l.region.as_str())).collect();
        let mut v: Vec<&str> = set.into_iter().collect();
        v.sort_unstable();
        v
    };
    let coords: HashMap<&str, (f64, f64)> = REGIONS.iter().map(|r| (r.0, (r.3, r.4))).collect();
    let mut distances = Vec::new();
    for (i, a) in used.iter().enumerate() {
        for b in &used[i + 1..] {
            distances.push(Distance {
                from: a.to_string(),
                to: b.to_string(),
                km: (km(coords[a], coords[b]) * 1.25).round(),
            });
        }
    }
    let pinned = pinned(&mut rng, &requests, &labs, &overrides, weeks, p.pinned);
    Instance {
        format: INSTANCE_FORMAT.to_string(),
        name: Some(format!("synthetic-{}r-{}l-{}w-seed{}", p.requests, labs.len(), weeks, p.seed)),
        horizon: Horizon { start: "2027-01-04".into(), weeks },
        weights: Weights {
            tardiness_per_week: 150_000.0,
            transport_per_km: 40.0,
            unassigned: 3_000_000.0,
            max_late_weeks: 8,
            move_lab: 0.0,
            move_week: 0.0,
        },
        regions: REGIONS
            .iter()
            .filter(|r| used.contains(&r.0))
            .map(|r| Region { code: r.0.into(), name: r.1.into(), name_en: r.2.into(), lat: r.3, lon: r.4 })
            .collect(),
        distances,
        equipment: EQUIPMENT
            .iter()
            .map(|e| Equipment {
                code: e.0.into(),
                name: e.1.into(),
                name_en: e.2.into(),
                max_hours_per_test_week: e.3,
            })
            .collect(),
        test_types: TEST_TYPES
            .iter()
            .map(|t| TestType {
                code: t.0.into(),
                standard: t.1.into(),
                name: t.3.into(),
                name_en: t.2.into(),
                equipment: t.4.into(),
                hours: t.5,
            })
            .collect(),
        labs,
        capacity_overrides: overrides,
        companies: companies.into_iter().map(|c| c.0).collect(),
        requests,
        pinned,
        current: Vec::new(),
    }
}

/// Companies with the index of their profile; the first of each region, then most in
/// the Volga automotive belt.
fn companies(rng: &mut Rng, n: usize) -> Vec<(Company, usize)> {
    let weights: Vec<f64> =
        REGIONS.iter().map(|r| COMPANY_REGIONS.iter().find(|c| c.0 == r.0).map_or(1.0, |c| c.1)).collect();
    (0..n)
        .map(|i| {
            let region = if i >= REGIONS.len() { REGIONS[rng.weighted(&weights)].0 } else { REGIONS[i].0 };
            let (a, b) = (*rng.choice(COMPANY_WORDS), rng.choice(COMPANY_WORDS).to_lowercase());
            let company = Company {
                id: format!("C{:04}", i + 1),
                name: format!("ООО «{a}{b}-{:03}»", i + 1),
                region: region.to_string(),
            };
            (company, rng.below(PROFILES.len()))
        })
        .collect()
}

/// Labs of the four kinds in turn, spread over the labs' regions; a lab left with no
/// equipment is not created.
fn labs(rng: &mut Rng, n: usize) -> Vec<Lab> {
    let mut labs = Vec::new();
    for i in 0..n {
        let region =
            if i < 3 * LAB_REGIONS.len() { LAB_REGIONS[i % LAB_REGIONS.len()] } else { *rng.choice(LAB_REGIONS) };
        let kind = &LAB_KINDS[i % LAB_KINDS.len()];
        let (adj, en) = ADJ.iter().find(|a| a.0 == region).map_or(("", ""), |a| (a.1, a.2));
        let mut capacity = Vec::new();
        let mut accredited = Vec::new();
        for &(eq, lo, hi) in kind.units {
            let units = rng.int(lo, hi);
            if units == 0 {
                continue;
            }
            let price = (rng.uniform(0.7, 1.5) * base_price(eq)).round();
            capacity.push(Capacity {
                equipment: eq.into(),
                hours_per_week: f64::from(units) * eq_max(eq),
                price_per_hour: price,
            });
            for t in TEST_TYPES.iter().filter(|t| t.4 == eq) {
                if rng.f64() < kind.accredited_share {
                    accredited.push(t.0.to_string());
                }
            }
        }
        if capacity.is_empty() {
            continue;
        }
        accredited.sort();
        let number = if i >= LAB_REGIONS.len() { format!(" №{}", i / LAB_REGIONS.len() + 1) } else { String::new() };
        labs.push(Lab {
            id: format!("L{:03}", i + 1),
            name: kind.name.replace("{adj}", adj) + &number,
            name_en: kind.name_en.replace("{en}", en),
            region: region.into(),
            accredited,
            capacity,
        });
    }
    labs
}

/// New Year and May holidays halve attended rigs; a quarter of the capacities close
/// for one random week of maintenance.
fn downtime(rng: &mut Rng, labs: &[Lab], weeks: u32) -> Vec<CapacityOverride> {
    let mut least: BTreeMap<(String, String, u32), f64> = BTreeMap::new();
    let mut put = |lab: &str, eq: &str, week: u32, hours: f64| {
        let v = least.entry((lab.to_string(), eq.to_string(), week)).or_insert(hours);
        *v = v.min(hours);
    };
    for lab in labs {
        for c in &lab.capacity {
            if eq_max(&c.equipment) < 168.0 {
                for w in [0, 1, 17] {
                    if w < weeks {
                        put(&lab.id, &c.equipment, w, (c.hours_per_week / 2.0).floor());
                    }
                }
            }
            if rng.f64() < 0.25 {
                let w = rng.below(weeks as usize) as u32;
                put(&lab.id, &c.equipment, w, 0.0);
            }
        }
    }
    least
        .into_iter()
        .map(|((lab, equipment, week), hours_per_week)| CapacityOverride { lab, equipment, week, hours_per_week })
        .collect()
}

/// Requests of every company, their number heavy-tailed by company, their class by the
/// company's trade, their window by the test's span.
fn requests(
    rng: &mut Rng,
    companies: &[(Company, usize)],
    labs: &[Lab],
    accredited: &HashSet<String>,
    n: usize,
    weeks: u32,
) -> Vec<Request> {
    let sizes: Vec<f64> = companies.iter().map(|_| rng.pareto(1.3).min(12.0)).collect();
    let scale = n as f64 / sizes.iter().sum::<f64>();
    let mut counts: Vec<usize> = sizes.iter().map(|s| ((s * scale) as usize).max(1)).collect();
    while counts.iter().sum::<usize>() > n {
        let (i, _) = counts.iter().enumerate().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0))).unwrap_or((0, &0));
        if counts[i] == 0 {
            break;
        }
        counts[i] -= 1;
    }
    while counts.iter().sum::<usize>() < n {
        let i = rng.below(counts.len());
        counts[i] += 1;
    }
    let mut requests = Vec::with_capacity(n);
    for ((company, profile), &count) in companies.iter().zip(&counts) {
        let profile = PROFILES[*profile];
        let weights: Vec<f64> = profile.iter().map(|x| x.1).collect();
        for _ in 0..count {
            let eq = profile[rng.weighted(&weights)].0;
            let of_class: Vec<&(&str, &str, &str, &str, &str, f64)> = TEST_TYPES.iter().filter(|t| t.4 == eq).collect();
            let mut ttype = *rng.choice(&of_class);
            if rng.f64() < 0.97 && !accredited.contains(ttype.0) {
                let offered: Vec<_> = of_class.iter().copied().filter(|t| accredited.contains(t.0)).collect();
                if !offered.is_empty() {
                    ttype = *rng.choice(&offered);
                }
            }
            let samples = *rng.choice(&[1, 1, 1, 2, 2, 3, 5]);
            let span = (ttype.5 / eq_max(eq)).ceil() as u32;
            let release = rng.below(weeks.saturating_sub(span + 2).max(1) as usize) as u32;
            let due = (weeks - 1 + 6).min(release + span - 1 + *rng.choice(&[1, 2, 3, 4, 6, 8, 10, 14]));
            let priority = [1, 2, 3][rng.weighted(&[5.0, 3.0, 2.0])];
            let mut excluded_labs = Vec::new();
            if rng.f64() < 0.05 {
                let same: Vec<&Lab> = labs.iter().filter(|l| l.region == company.region).collect();
                if !same.is_empty() {
                    excluded_labs.push(rng.choice(&same).id.clone());
                }
            }
            requests.push(Request {
                id: format!("R{:05}", requests.len() + 1),
                company: company.id.clone(),
                test_type: ttype.0.into(),
                samples,
                release_week: release,
                due_week: due,
                priority,
                excluded_labs,
            });
        }
    }
    requests
}

/// A lab offers only part of its equipment time to the programme: offered hours are
/// scaled so that demand is about `load` of capacity per class, some classes tighter.
fn scale_capacity(rng: &mut Rng, labs: &mut [Lab], requests: &[Request], weeks: u32, load: f64) {
    let hours: HashMap<&str, (&str, f64)> = TEST_TYPES.iter().map(|t| (t.0, (t.4, t.5))).collect();
    let mut demand: HashMap<&str, f64> = HashMap::new();
    for r in requests {
        if let Some(&(eq, h)) = hours.get(r.test_type.as_str()) {
            *demand.entry(eq).or_insert(0.0) += h;
        }
    }
    let mut supply: HashMap<String, f64> = HashMap::new();
    for lab in labs.iter() {
        for c in &lab.capacity {
            *supply.entry(c.equipment.clone()).or_insert(0.0) += c.hours_per_week * f64::from(weeks);
        }
    }
    let class_load: HashMap<&str, f64> = EQUIPMENT.iter().map(|e| (e.0, load * rng.uniform(0.75, 1.2))).collect();
    for lab in labs.iter_mut() {
        for c in &mut lab.capacity {
            let eq = c.equipment.as_str();
            if let (Some(&d), Some(&s)) = (demand.get(eq), supply.get(eq))
                && s > 0.0
            {
                let factor = d / (s * class_load[eq]);
                c.hours_per_week = (eq_max(eq) / 4.0).floor().max((c.hours_per_week * factor).round());
            }
        }
    }
}

/// Confirmed bookings of a few requests, each at a random lab that can take it from
/// its release week using at most half of every week's capacity (overrides included),
/// so that every pin keeps every rule.
fn pinned(
    rng: &mut Rng,
    requests: &[Request],
    labs: &[Lab],
    overrides: &[CapacityOverride],
    weeks: u32,
    share: f64,
) -> Vec<Pinned> {
    if share <= 0.0 {
        return Vec::new();
    }
    let week_cap: HashMap<(&str, &str, u32), f64> =
        overrides.iter().map(|o| ((o.lab.as_str(), o.equipment.as_str(), o.week), o.hours_per_week)).collect();
    let hours: HashMap<&str, (&str, f64)> = TEST_TYPES.iter().map(|t| (t.0, (t.4, t.5))).collect();
    let mut used: HashMap<(usize, &str, u32), f64> = HashMap::new();
    let mut pinned = Vec::new();
    let count = (requests.len() as f64 * share) as usize;
    for i in rng.sample(requests.len(), count) {
        let r = &requests[i];
        let Some(&(eq, h)) = hours.get(r.test_type.as_str()) else { continue };
        for li in rng.sample(labs.len(), labs.len()) {
            let lab = &labs[li];
            if !lab.accredited.contains(&r.test_type) || r.excluded_labs.contains(&lab.id) {
                continue;
            }
            let Some(base) = lab.capacity.iter().find(|c| c.equipment == eq).map(|c| c.hours_per_week) else {
                continue;
            };
            let span = (h / eq_max(eq).min(base) - 1e-9).ceil().max(1.0) as u32;
            let start = r.release_week;
            if start + span > weeks {
                continue;
            }
            let usage = h / f64::from(span);
            let cap = |w: u32| week_cap.get(&(lab.id.as_str(), eq, w)).copied().unwrap_or(base);
            if (start..start + span).all(|w| used.get(&(li, eq, w)).copied().unwrap_or(0.0) + usage <= 0.5 * cap(w)) {
                for w in start..start + span {
                    *used.entry((li, eq, w)).or_insert(0.0) += usage;
                }
                pinned.push(Pinned { request: r.id.clone(), lab: lab.id.clone(), start_week: start });
                break;
            }
        }
    }
    pinned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_parameters_same_instance() {
        let p = GenParams { requests: 300, companies: 30, labs: 20, ..GenParams::default() };
        assert_eq!(generate(&p), generate(&p));
        let other = generate(&GenParams { seed: 2, ..p.clone() });
        assert_ne!(other.requests, generate(&p).requests);
    }

    #[test]
    fn generated_instances_keep_every_rule() {
        for seed in 1..4 {
            let p = GenParams { requests: 500, companies: 40, labs: 30, seed, ..GenParams::default() };
            let inst = generate(&p);
            assert_eq!(inst.requests.len(), 500);
            assert!(!inst.pinned.is_empty());
            inst.check().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        }
    }
}
