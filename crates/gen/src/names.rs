//! The vocabulary of generated histories: brands, product lines, places and people.

/// Brand names (a seeded shuffle decides which brand gets which).
pub const BRAND_NAMES: [&str; 32] = [
    "Lumina", "Qingyu", "Hanfang", "Yunxi", "Meiran", "Zhiyan", "Baicao", "Xuelian", "Muxiang", "Tianlan",
    "Jinshan", "Moyu", "Lanting", "Ruoshui", "Anqi", "Chunhe", "Fengya", "Guyue", "Haitang", "Jiangnan",
    "Liuli", "Mingxuan", "Nanfeng", "Qiushi", "Shuimu", "Taohua", "Wanxiang", "Xinghe", "Yanran", "Zhuoyue",
    "Bingxue", "Cuizhu",
];

/// A line of business: its word in company names, Nice classes, price floors in yuan, and
/// three categories of products (id, sku code, product names).
pub struct Domain {
    pub word: &'static str,
    pub classes: &'static [u8],
    pub floor_yuan: (u64, u64),
    pub categories: [(&'static str, &'static str, [&'static str; 6]); 3],
}

pub const DOMAINS: [Domain; 7] = [
    Domain {
        word: "Cosmetics",
        classes: &[3],
        floor_yuan: (49, 899),
        categories: [
            (
                "skincare",
                "SKN",
                [
                    "Hydra Serum 30 ml",
                    "Night Cream 50 ml",
                    "Essence Toner 150 ml",
                    "Eye Cream 15 ml",
                    "Cleansing Foam 120 ml",
                    "Repair Mask 5 pcs",
                ],
            ),
            (
                "makeup",
                "MKP",
                [
                    "Silk Foundation 30 ml",
                    "Matte Lipstick",
                    "Cushion Compact",
                    "Brow Pencil",
                    "Setting Powder",
                    "Volume Mascara",
                ],
            ),
            (
                "fragrance",
                "FRG",
                [
                    "Eau de Parfum 50 ml",
                    "Eau de Toilette 100 ml",
                    "Body Mist 200 ml",
                    "Travel Spray 10 ml",
                    "Scented Candle",
                    "Fragrance Gift Set",
                ],
            ),
        ],
    },
    Domain {
        word: "Tea",
        classes: &[30],
        floor_yuan: (29, 699),
        categories: [
            (
                "green-tea",
                "GRN",
                [
                    "Longjing Spring 250 g",
                    "Biluochun 125 g",
                    "Huangshan Maofeng 200 g",
                    "Anji White 100 g",
                    "Green Tea Bags 50 pcs",
                    "Green Tea Gift Tin",
                ],
            ),
            (
                "oolong",
                "OOL",
                [
                    "Tieguanyin 250 g",
                    "Da Hong Pao 150 g",
                    "Fenghuang Dancong 100 g",
                    "Milk Oolong 200 g",
                    "Oolong Bags 40 pcs",
                    "Oolong Tasting Set",
                ],
            ),
            (
                "black-tea",
                "BLK",
                [
                    "Keemun 200 g",
                    "Dianhong 250 g",
                    "Lapsang Souchong 150 g",
                    "Jin Jun Mei 100 g",
                    "Black Tea Bags 50 pcs",
                    "Pu-erh Cake 357 g",
                ],
            ),
        ],
    },
    Domain {
        word: "Apparel",
        classes: &[25],
        floor_yuan: (79, 1299),
        categories: [
            (
                "tops",
                "TOP",
                [
                    "Cotton T-Shirt",
                    "Linen Shirt",
                    "Merino Sweater",
                    "Hooded Sweatshirt",
                    "Silk Blouse",
                    "Polo Shirt",
                ],
            ),
            (
                "outerwear",
                "OUT",
                ["Down Jacket", "Wool Coat", "Trench Coat", "Windbreaker", "Fleece Jacket", "Quilted Vest"],
            ),
            (
                "footwear",
                "FTW",
                [
                    "Running Shoes",
                    "Leather Loafers",
                    "Canvas Sneakers",
                    "Ankle Boots",
                    "Sandals",
                    "Walking Shoes",
                ],
            ),
        ],
    },
    Domain {
        word: "Electronics",
        classes: &[9],
        floor_yuan: (49, 1999),
        categories: [
            (
                "audio",
                "AUD",
                [
                    "Wireless Earbuds",
                    "Over-Ear Headphones",
                    "Bluetooth Speaker",
                    "Soundbar",
                    "Neckband Earphones",
                    "Smart Speaker",
                ],
            ),
            (
                "power",
                "PWR",
                [
                    "Power Bank 10000 mAh",
                    "Power Bank 20000 mAh",
                    "65 W Charger",
                    "Charging Cable 1 m",
                    "Wireless Charger",
                    "Car Charger",
                ],
            ),
            (
                "wearables",
                "WRB",
                ["Smart Band", "Smart Watch", "Kids Watch", "Watch Strap", "Sleep Tracker", "Fitness Ring"],
            ),
        ],
    },
    Domain {
        word: "Mother & Baby",
        classes: &[5, 28],
        floor_yuan: (29, 599),
        categories: [
            (
                "formula",
                "FML",
                [
                    "Infant Formula Stage 1",
                    "Follow-on Formula Stage 2",
                    "Growing-up Formula Stage 3",
                    "Organic Formula",
                    "Goat Milk Formula",
                    "Formula Travel Pack",
                ],
            ),
            (
                "diapers",
                "DPR",
                [
                    "Diapers S 84 pcs",
                    "Diapers M 64 pcs",
                    "Diapers L 54 pcs",
                    "Pull-Ups XL 42 pcs",
                    "Night Diapers",
                    "Baby Wipes 80 pcs",
                ],
            ),
            (
                "toys",
                "TOY",
                [
                    "Wooden Blocks",
                    "Plush Rabbit",
                    "Stacking Rings",
                    "Bath Toys Set",
                    "Activity Gym",
                    "Shape Sorter",
                ],
            ),
        ],
    },
    Domain {
        word: "Foods",
        classes: &[29, 30],
        floor_yuan: (19, 299),
        categories: [
            (
                "nuts",
                "NUT",
                [
                    "Mixed Nuts 750 g",
                    "Macadamia 500 g",
                    "Pecans 400 g",
                    "Cashews 500 g",
                    "Daily Nuts 30 packs",
                    "Pistachios 500 g",
                ],
            ),
            (
                "dried-fruit",
                "DRF",
                [
                    "Dried Mango 500 g",
                    "Xinjiang Raisins 1 kg",
                    "Red Dates 1 kg",
                    "Dried Figs 400 g",
                    "Freeze-Dried Strawberries",
                    "Goji Berries 500 g",
                ],
            ),
            (
                "biscuits",
                "BSC",
                [
                    "Butter Cookies 908 g",
                    "Egg Rolls 400 g",
                    "Soda Crackers 1 kg",
                    "Pastry Gift Box",
                    "Mooncake Gift Box",
                    "Wafer Sticks 500 g",
                ],
            ),
        ],
    },
    Domain {
        word: "Home",
        classes: &[21, 24],
        floor_yuan: (29, 999),
        categories: [
            (
                "kitchen",
                "KIT",
                [
                    "Non-Stick Wok 32 cm",
                    "Knife Set 6 pcs",
                    "Rice Cooker Pot",
                    "Glass Containers 10 pcs",
                    "Cutting Board",
                    "Steamer Basket",
                ],
            ),
            (
                "bedding",
                "BED",
                [
                    "Silk Duvet 200 x 230",
                    "Cotton Sheet Set",
                    "Memory Foam Pillow",
                    "Summer Mat",
                    "Down Comforter",
                    "Blanket 150 x 200",
                ],
            ),
            (
                "storage",
                "STO",
                [
                    "Storage Boxes 3 pcs",
                    "Vacuum Bags 10 pcs",
                    "Shoe Rack",
                    "Drawer Organizer",
                    "Laundry Basket",
                    "Wardrobe Hangers 50 pcs",
                ],
            ),
        ],
    },
];

/// Mainland provinces by their ISO 3166-2 codes (the GB/T 2260 numeric form the samples
/// use), with a weight for where buyers are (in tenths).
pub const PROVINCES: [(&str, u32); 31] = [
    ("CN-11", 50),  // 0 Beijing
    ("CN-12", 20),  // 1 Tianjin
    ("CN-13", 40),  // 2 Hebei
    ("CN-14", 20),  // 3 Shanxi
    ("CN-15", 10),  // 4 Inner Mongolia
    ("CN-21", 30),  // 5 Liaoning
    ("CN-22", 12),  // 6 Jilin
    ("CN-23", 15),  // 7 Heilongjiang
    ("CN-31", 60),  // 8 Shanghai
    ("CN-32", 80),  // 9 Jiangsu
    ("CN-33", 90),  // 10 Zhejiang
    ("CN-34", 40),  // 11 Anhui
    ("CN-35", 50),  // 12 Fujian
    ("CN-36", 30),  // 13 Jiangxi
    ("CN-37", 60),  // 14 Shandong
    ("CN-41", 50),  // 15 Henan
    ("CN-42", 40),  // 16 Hubei
    ("CN-43", 40),  // 17 Hunan
    ("CN-44", 120), // 18 Guangdong
    ("CN-45", 25),  // 19 Guangxi
    ("CN-46", 8),   // 20 Hainan
    ("CN-50", 30),  // 21 Chongqing
    ("CN-51", 50),  // 22 Sichuan
    ("CN-52", 18),  // 23 Guizhou
    ("CN-53", 20),  // 24 Yunnan
    ("CN-54", 2),   // 25 Tibet
    ("CN-61", 30),  // 26 Shaanxi
    ("CN-62", 10),  // 27 Gansu
    ("CN-63", 3),   // 28 Qinghai
    ("CN-64", 4),   // 29 Ningxia
    ("CN-65", 10),  // 30 Xinjiang
];

/// The seven sales areas agents are appointed for: name and provinces (indexes above).
pub const AREAS: [(&str, &[u8]); 7] = [
    ("North China", &[0, 1, 2, 3, 4]),
    ("Northeast", &[5, 6, 7]),
    ("East China", &[8, 9, 10, 11, 12, 13, 14]),
    ("Central China", &[15, 16, 17]),
    ("South China", &[18, 19, 20]),
    ("Southwest", &[21, 22, 23, 24, 25]),
    ("Northwest", &[26, 27, 28, 29, 30]),
];

/// Cities where companies are registered: name, province index, administrative division code
/// (the 3rd to 8th characters of a unified social credit code).
pub const CITIES: [(&str, u8, &str); 20] = [
    ("Shanghai", 8, "310115"),
    ("Hangzhou", 10, "330106"),
    ("Guangzhou", 18, "440106"),
    ("Shenzhen", 18, "440305"),
    ("Beijing", 0, "110105"),
    ("Chengdu", 22, "510107"),
    ("Wuhan", 16, "420106"),
    ("Nanjing", 9, "320106"),
    ("Suzhou", 9, "320505"),
    ("Xiamen", 12, "350206"),
    ("Changsha", 17, "430104"),
    ("Zhengzhou", 15, "410105"),
    ("Xi'an", 26, "610113"),
    ("Chongqing", 21, "500105"),
    ("Tianjin", 1, "120104"),
    ("Qingdao", 14, "370212"),
    ("Shenyang", 5, "210102"),
    ("Kunming", 24, "530102"),
    ("Hefei", 11, "340104"),
    ("Fuzhou", 12, "350102"),
];

pub const SURNAMES: [&str; 20] = [
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun", "Ma", "Zhu",
    "Hu", "Guo", "He", "Lin", "Gao", "Luo",
];

pub const GIVEN_NAMES: [&str; 20] = [
    "Fang", "Na", "Min", "Jing", "Lei", "Yan", "Jun", "Tao", "Ming", "Hui", "Xia", "Ping", "Gang", "Hong",
    "Yu", "Qiang", "Li", "Jie", "Wei", "Ying",
];

/// Words for trading companies' names.
pub const TRADE_WORDS: [&str; 10] = [
    "Huitong",
    "Jiahe",
    "Ruixiang",
    "Hengda",
    "Yuanfeng",
    "Xinlong",
    "Baisheng",
    "Tianyi",
    "Hongyun",
    "Zhongcheng",
];

pub const REFUND_REASONS: [&str; 5] = [
    "7-day no-reason return",
    "item not as described",
    "damaged in transit",
    "wrong size or colour",
    "buyer suspects a counterfeit",
];

/// Each province's capital and its administrative division code, by province index.
pub const PROVINCE_SEATS: [(&str, &str); 31] = [
    ("Beijing", "110105"),
    ("Tianjin", "120104"),
    ("Shijiazhuang", "130102"),
    ("Taiyuan", "140105"),
    ("Hohhot", "150102"),
    ("Shenyang", "210102"),
    ("Changchun", "220102"),
    ("Harbin", "230102"),
    ("Shanghai", "310115"),
    ("Nanjing", "320106"),
    ("Hangzhou", "330106"),
    ("Hefei", "340104"),
    ("Fuzhou", "350102"),
    ("Nanchang", "360102"),
    ("Jinan", "370102"),
    ("Zhengzhou", "410105"),
    ("Wuhan", "420106"),
    ("Changsha", "430104"),
    ("Guangzhou", "440106"),
    ("Nanning", "450102"),
    ("Haikou", "460105"),
    ("Chongqing", "500105"),
    ("Chengdu", "510107"),
    ("Guiyang", "520102"),
    ("Kunming", "530102"),
    ("Lhasa", "540102"),
    ("Xi'an", "610113"),
    ("Lanzhou", "620102"),
    ("Xining", "630102"),
    ("Yinchuan", "640104"),
    ("Urumqi", "650102"),
];
