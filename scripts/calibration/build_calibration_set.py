#!/usr/bin/env python3
"""Builds data/calibration.jsonl: A-IO's labeled calibration prompts (code / qa / math), written for this project.

Every item below was written for A-IO; composition (task x language x phrasing, problem templates with varied names
and numbers) multiplies them into a set that covers the shapes real requests take:
  code - HumanEval-style Python stubs with docstrings, and coding asks in many languages, in English and Chinese;
  math - GSM8K-style word problems and other math (algebra, arithmetic, calculus, probability), English and Chinese;
  qa   - MMLU/C-Eval-style multiple choice (including math- and code-flavoured subjects: the format makes them qa) and
         open knowledge questions, English and Chinese;
  plus deliberately ambiguous requests, labeled by what the user asks for.
The output is deterministic (fixed seed). Run: python3 scripts/calibration/build_calibration_set.py
"""
import json
import os
import random

rng = random.Random(20261123)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "calibration.jsonl")
items = []


def add(text, label, kind):
    items.append({"text": text, "label": label, "kind": kind})


# ----------------------------------------------------------------------------------------------------------- code
STUBS = [
    ("has_close_elements", "numbers: List[float], threshold: float", "bool",
     "Check if in given list of numbers, are any two numbers closer to each other than given threshold."),
    ("separate_groups", "paren_string: str", "List[str]",
     "Input is a string of balanced groups of parentheses. Separate the groups into separate strings and return the list."),
    ("truncate_number", "number: float", "float", "Given a positive floating point number, return its decimal part."),
    ("below_zero", "operations: List[int]", "bool",
     "Given deposit and withdrawal operations on a bank account that starts at zero, detect if the balance ever falls below zero."),
    ("mean_absolute_deviation", "numbers: List[float]", "float",
     "Calculate the mean absolute deviation around the mean of the given numbers."),
    ("intersperse", "numbers: List[int], delimiter: int", "List[int]",
     "Insert the number 'delimiter' between every two consecutive elements of the input list."),
    ("count_vowels", "s: str", "int", "Return the number of vowels in the string s. 'y' counts only at the end."),
    ("is_palindrome", "text: str", "bool", "Checks if the given string is a palindrome, ignoring case and spaces."),
    ("rolling_max", "numbers: List[int]", "List[int]",
     "From a given list of integers, generate a list of the rolling maximum element found until each moment."),
    ("remove_duplicates", "numbers: List[int]", "List[int]",
     "From a list of integers, remove all elements that occur more than once, keeping the order of the rest."),
    ("flip_case", "string: str", "str", "For a given string, flip lowercase characters to uppercase and uppercase to lowercase."),
    ("largest_prime_factor", "n: int", "int", "Return the largest prime factor of n. Assume n > 1 and is not a prime."),
    ("sum_to_n", "n: int", "int", "sum_to_n is a function that sums numbers from 1 to n."),
    ("fib", "n: int", "int", "Return the n-th Fibonacci number."),
    ("monotonic", "l: list", "bool", "Return True if the list elements are monotonically increasing or decreasing."),
    ("common", "l1: list, l2: list", "list", "Return sorted unique common elements for two lists."),
    ("encode_shift", "s: str", "str", "Return an encoded string by shifting every character by 5 in the alphabet."),
    ("triangle_area", "a: float, h: float", "float", "Given the length of a side and the height, return the area of the triangle."),
    ("median", "l: list", "float", "Return the median of the elements in the list l."),
    ("words_in_sentence", "sentence: str", "str",
     "Return a string containing the words of the sentence whose lengths are prime numbers, in the original order."),
    ("digit_sum", "s: str", "int", "Return the sum of the ASCII codes of the upper case characters only."),
    ("sort_by_bits", "arr: List[int]", "List[int]",
     "Sort an array of non-negative integers by the number of ones in their binary representation, then by value."),
    ("valid_date", "date: str", "bool", "Return True if the date string in the format mm-dd-yyyy is a valid date."),
    ("closest_integer", "value: str", "int", "Return the closest integer to the number given as a string, rounding away from zero."),
    ("parse_music", "music_string: str", "List[int]",
     "Parse a string of musical notes in a special ASCII format and return how many beats each note lasts."),
    ("how_many_times", "string: str, substring: str", "int",
     "Find how many times a given substring can be found in the original string, counting overlapping cases."),
    ("strongest_extension", "class_name: str, extensions: List[str]", "str",
     "Find the strongest extension, where strength is the number of uppercase minus lowercase letters."),
    ("pairs_sum_to_zero", "l: List[int]", "bool", "Return True if there are two distinct elements in the list that sum to zero."),
    ("change_base", "x: int, base: int", "str", "Change the numerical base of the input number x to base and return the string."),
    ("anti_shuffle", "s: str", "str", "Return a version of the string where the characters of each word are sorted in ascending order."),
    ("max_fill", "grid: List[List[int]], capacity: int", "int",
     "Each row of the grid is a well and each 1 a unit of water. Return how many times buckets of the given capacity must be lowered."),
    ("minimum_path", "grid: List[List[int]], k: int", "List[int]",
     "Find the lexicographically smallest path of length k in the grid and return the values on it."),
    ("tri", "n: int", "List[int]", "Return the first n + 1 numbers of the Tribonacci-like sequence defined in the examples."),
    ("compare_one", "a, b", "object", "Return the larger of the two values, which may be ints, floats or strings representing reals."),
    ("file_name_check", "file_name: str", "str", "Return 'Yes' if the file name is valid according to the rules, otherwise 'No'."),
    ("prod_signs", "arr: List[int]", "Optional[int]",
     "Return the sum of magnitudes of integers multiplied by the product of all signs, or None for an empty array."),
]
for name, args, ret, doc in STUBS:
    ex_in = rng.choice(["[1, 2, 3]", "'abc'", "10", "[]", "'Hello World'", "5"])
    body = f'def {name}({args}) -> {ret}:\n    """ {doc}\n    >>> {name}({ex_in})\n    """\n'
    header = rng.choice(["from typing import List\n\n\n", "", "from typing import List, Optional\n\n\n", "import math\n\n\n"])
    add(header + body, "code", "humaneval-stub")

TASKS = [
    "reverses a linked list", "checks whether a number is prime", "merges two sorted arrays",
    "parses a CSV file and prints the second column", "computes the SHA-256 hash of a file",
    "finds the longest common subsequence of two strings", "implements binary search on a sorted array",
    "counts word frequencies in a text file", "validates an email address with a regular expression",
    "serializes a binary tree to a string and back", "implements an LRU cache", "flattens a nested list",
    "converts a Roman numeral to an integer", "implements quicksort", "reads JSON from stdin and pretty-prints it",
    "detects a cycle in a directed graph", "computes the edit distance between two words",
    "downloads a web page and extracts all links", "implements a thread-safe queue", "rotates a matrix by 90 degrees",
    "removes duplicate rows from a table", "implements a trie with insert and search", "generates all permutations of a list",
    "implements Dijkstra's shortest path algorithm", "retries an HTTP request with exponential backoff",
    "computes a moving average over a stream of numbers", "tokenizes an arithmetic expression",
    "implements a min-heap", "checks if parentheses in a string are balanced", "converts a date string to ISO 8601",
]
LANGS = ["Python", "JavaScript", "TypeScript", "C++", "Java", "Go", "Rust", "C", "C#", "Kotlin", "Swift", "Ruby"]
PHRASES = [
    "Write a {lang} function that {task}.", "Implement a {lang} program that {task}.",
    "Can you write code in {lang} that {task}?", "Please give me a {lang} snippet that {task}, with comments.",
    "I need a {lang} class that {task}. Include unit tests.", "Show me an idiomatic {lang} implementation that {task}.",
    "Write {lang} code that {task} and explain its time complexity.",
]
for _ in range(110):
    add(rng.choice(PHRASES).format(lang=rng.choice(LANGS), task=rng.choice(TASKS)), "code", "code-ask")

CODE_MISC = [
    "Fix the bug in this function:\n\ndef avg(xs):\n    return sum(xs) / len(xs) + 1\n",
    "Why does this JavaScript print undefined?\n\nfunction f() {\n  return\n  {a: 1};\n}\nconsole.log(f());",
    "Refactor this Java method to use streams:\n\nfor (int i = 0; i < list.size(); i++) {\n    if (list.get(i) > 0) sum += list.get(i);\n}",
    "Write a SQL query that returns the top 5 customers by total order amount from tables customers and orders.",
    "Write a bash script that renames every .jpeg file in a directory to .jpg.",
    "Convert this Python loop into a list comprehension: result = []\nfor x in data:\n    if x % 2 == 0:\n        result.append(x * x)",
    "Write a Dockerfile for a Flask app that listens on port 8080.",
    "Add type hints to this function: def greet(name, times): return ' '.join(['hi ' + name] * times)",
    "Write a regular expression that matches IPv4 addresses and a Python test for it.",
    "Complete the following C function:\n\nint str_len(const char *s) {\n",
    "What does this Rust compile error mean and how do I fix it: borrowed value does not live long enough",
    "Write a React component that shows a counter with increment and decrement buttons.",
    "Optimize this Python code, it is too slow for n = 10^6:\n\nfor i in range(n):\n    if i in my_list:\n        count += 1",
    "Write a Go HTTP handler that returns the current time as JSON.",
    "Implement the function below so that all doctests pass.\n\ndef add(x: int, y: int):\n    \"\"\"Add two numbers x and y\n    >>> add(2, 3)\n    5\n    \"\"\"\n",
    "Write a CUDA kernel that adds two float vectors.",
    "Write a Makefile that builds main.c and util.c into an executable called app.",
    "Translate this Python into C++:\n\nnums = sorted(set(nums))\nprint(nums[-1])",
    "Write a unit test with pytest for a function that parses dates.",
    "Review this code for security problems:\n\nquery = \"SELECT * FROM users WHERE name = '\" + name + \"'\"\ncursor.execute(query)",
    "def solve():\n    n = int(input())\n    # read n numbers and print their maximum\n",
    "class Stack:\n    \"\"\"A stack with push, pop and peek. Implement the methods.\"\"\"\n",
    "#include <vector>\n// Return the indices of the two numbers that add up to target.\nstd::vector<int> two_sum(const std::vector<int>& nums, int target) {\n",
    "function debounce(fn, ms) {\n  // complete this so fn runs only after ms without calls\n}",
    "Write a Python script that uses pandas to group a dataframe by 'city' and compute the mean 'price'.",
    "Write a Kotlin data class for a User with name, email and age, and a function to validate it.",
    "How do I read a file line by line in C#? Show the code.",
    "Write a shell one-liner that counts the lines of all .py files in a repository.",
    "Write the CSS for a centered card with a shadow and rounded corners.",
    "Implement merge sort in Haskell.",
]
for t in CODE_MISC:
    add(t, "code", "code-misc")

ZH_CODE = [
    "用Python写一个函数，判断一个字符串是否是回文。", "请用C++实现一个快速排序算法。", "写一个Java程序，读取文件并统计每个单词出现的次数。",
    "用JavaScript实现一个防抖函数。", "请写一个SQL查询，找出每个部门工资最高的员工。", "用Go语言写一个简单的HTTP服务器。",
    "帮我修复下面这段Python代码的错误：\n\ndef add(a, b)\n    return a + b", "用Rust实现一个链表反转函数。",
    "写一个Python脚本，把目录下所有的.txt文件合并成一个文件。", "请实现一个LRU缓存，使用Python。",
    "用Python实现二分查找，并写出单元测试。", "写一个shell脚本，每天凌晨备份数据库。", "请用C语言实现字符串拷贝函数strcpy。",
    "用Python的requests库下载网页并提取所有链接。", "实现一个函数，计算两个字符串的最长公共子序列，用Java写。",
    "请解释下面的代码并优化它的性能：\nfor i in range(len(a)):\n    for j in range(len(a)):\n        if a[i] == a[j] and i != j: print(a[i])",
    "用TypeScript写一个泛型栈类。", "编写一个Python函数，将罗马数字转换为整数。", "请用C#写一个读取JSON配置文件的类。",
    "写一段代码实现矩阵顺时针旋转90度，语言不限。", "用Python写一个装饰器，统计函数的运行时间。",
    "请写一个正则表达式匹配中国大陆的手机号码，并给出Python示例。", "用Java实现单例模式，要求线程安全。",
    "帮我写一个React组件，显示一个待办事项列表。", "实现一个函数，判断二叉树是否平衡，用C++。",
]
for t in ZH_CODE:
    add(t, "code", "code-zh")

# ----------------------------------------------------------------------------------------------------------- math
NAMES = ["Natalia", "James", "Aisha", "Carlos", "Mei", "Tom", "Priya", "Olga", "Kwame", "Lena", "Ravi", "Sofia",
         "Ben", "Yuki", "Fatima", "Diego", "Hannah", "Omar", "Julia", "Marcus"]
ITEMS = [("apples", "basket"), ("cookies", "tray"), ("pencils", "box"), ("stickers", "album"), ("eggs", "carton"),
         ("marbles", "bag"), ("books", "shelf"), ("cupcakes", "plate"), ("seashells", "bucket"), ("tickets", "roll")]


def word_problem():
    n = rng.choice(NAMES)
    m = rng.choice([x for x in NAMES if x != n])
    item, cont = rng.choice(ITEMS)
    a, b, c = rng.randint(3, 60), rng.randint(2, 12), rng.randint(2, 9)
    price = rng.choice([0.25, 0.5, 1.5, 2, 3, 4.75, 12])
    forms = [
        f"{n} has {a} {item}. {m} gives {n} {b} times as many {item} as {n} already has. How many {item} does {n} have now?",
        f"{n} sold {item} to {a} of her friends in April, and then she sold half as many in May. How many {item} did {n} sell altogether in April and May?",
        f"A {cont} holds {c} {item}. {n} fills {a} {cont}s and then gives away {b} {item}. How many {item} are left?",
        f"{n} buys {a} {item} at ${price} each and pays with a $100 bill. How much change does {n} get?",
        f"{n} earns ${a} per hour babysitting. Yesterday, {n} did {b * 10} minutes of babysitting. How much did {n} earn?",
        f"{n} is {a} years old. {m} is {b} years older than twice {n}'s age. How old will {m} be in {c} years?",
        f"There are {a} students in a class. {c * 10}% of them walk to school and the rest take the bus. How many take the bus?",
        f"{n} reads {b} pages on Monday and twice as many pages on Tuesday. If the book has {a * 10} pages, how many pages are left to read?",
        f"A train travels at {a} miles per hour for {c} hours and then at {b * 5} miles per hour for {b} hours. What is the total distance?",
        f"{n} and {m} share {a * c} {item} in the ratio {b}:{c}. How many {item} does {m} get?",
        f"{n} saves ${b} every week. After {a} weeks, {n} spends ${c * 7} on a gift. How much money does {n} have left?",
        f"A store offers a {c * 5}% discount on a jacket that costs ${a * 4}. {n} also pays {b}% sales tax on the discounted price. What is the final price?",
        f"{n} plants {a} rows of tomatoes with {b} plants in each row. Each plant yields {c} tomatoes. How many tomatoes does {n} harvest?",
        f"It takes {n} {b} minutes to bake a batch of {c} {item}. How long will it take to bake {a * c} {item}?",
        f"{n} ran {b} kilometers each day for {a} days. {m} ran {c} kilometers more per day for the same days. How many more kilometers did {m} run in total?",
    ]
    return rng.choice(forms)


for _ in range(120):
    add(word_problem(), "math", "gsm8k-style")

# Stories from many walks of life (farms, sport, travel, shops, school), so everyday words do not read as code.
STORIES = [
    "A farmer has {a} cows and {b} chickens. How many legs are there on the farm in total?",
    "{n} drives {a}0 miles to work and back each day, {c} days a week. The car uses one gallon per {b}0 miles. How many gallons does {n} use in {b} weeks?",
    "A recipe needs {c} cups of flour for {b} dozen cookies. How many cups of flour are needed for {a} dozen cookies?",
    "{n}'s garden is {a} feet long and {b} feet wide. Fencing costs ${c} per foot. How much does it cost to fence the garden?",
    "A school bus has {a} seats and each seat fits {c} children. If {b} seats are broken, how many children can ride the bus?",
    "{n} scored {a}, {b}0 and {c}0 points in three basketball games. How many points must {n} score in the fourth game to average {b}0 points?",
    "The temperature was {a} degrees in the morning and rose {c} degrees every hour for {b} hours. What was the temperature in the afternoon?",
    "{n} watches {b} episodes of a show every night. Each episode is {a} minutes long. How many hours does {n} spend watching in {c} weeks?",
    "A phone plan costs ${a} a month plus ${c} for every gigabyte over {b} gigabytes. {n} used {b} + 5 gigabytes. What is the bill?",
    "{n} is packing {big} oranges into boxes of {a}. How many boxes are full and how many oranges are left over?",
    "Each of the {a} players on a team needs {b} jerseys, and each jersey costs ${c}. What does the team spend on jerseys?",
    "A library had {big} books. It lent out {a} books on Monday and got {b} back on Tuesday. How many books are in the library now?",
    "{n} swims {c} laps every day. Each lap is {a} meters. How many kilometers does {n} swim in {b} weeks?",
    "A bakery sells muffins for ${c} each and cakes for ${a} each. On Saturday it sold {b}0 muffins and {c} cakes. How much money did it make?",
    "{n} bought a laptop for ${big} and paid for it in {a} equal monthly payments. How much was each payment?",
    "A movie theater has {a} rows of {b}0 seats. If {c}0% of the seats were sold, how many tickets were sold?",
    "{n} walks the dog {c} times a day for {a} minutes each time. How many hours does {n} spend walking the dog in a {b}0-day month?",
    "A water tank holds {big} gallons. A pipe fills it at {a} gallons per minute while a leak drains {c} gallons per minute. How long does it take to fill?",
    "{n} collected {a} stamps. {m} collected {b} more than {n}, and {n}'s sister collected half as many as {m}. How many stamps do they have altogether?",
    "A hotel room costs ${a}0 per night, with a {c}% tax. {n} stays {b} nights. What is the total cost?",
    "In a class of {a}0 students, {c}0% passed the exam. Of those who passed, one half got an A. How many students got an A?",
    "{n} ran a marathon in {c} hours and {a} minutes. {m} finished {b} minutes faster. How long did {m} take?",
    "{n} has {a} quarters, {b} dimes and {c} nickels. How much money does {n} have in dollars?",
    "Each shelf holds {a} jars of jam. A shop has {b} shelves and sells {c} jars an hour. How many hours until the shelves are empty?",
]
for _ in range(200):
    t = rng.choice(STORIES)
    n = rng.choice(NAMES)
    m = rng.choice([x for x in NAMES if x != n])
    add(t.format(n=n, m=m, a=rng.randint(3, 60), b=rng.randint(2, 12), c=rng.randint(2, 9), big=rng.randint(100, 2000)),
        "math", "gsm8k-style")

SYMBOLIC = [
    "Solve for x: 3x + 7 = 22.", "What is the derivative of x^3 * sin(x)?", "Compute the integral of 1/(1+x^2) from 0 to 1.",
    "Find all real roots of x^2 - 5x + 6 = 0.", "Simplify (2x^2 - 8) / (x - 2).", "What is 17 * 24?", "Calculate 15% of 240.",
    "If f(x) = 2x + 3, what is f(f(2))?", "Find the sum of the first 100 positive integers.", "What is the least common multiple of 12 and 18?",
    "Evaluate the limit of (sin x)/x as x approaches 0.", "Solve the system: x + y = 10, x - y = 4.",
    "A fair die is rolled twice. What is the probability that the sum is 7?", "How many ways can 5 people be seated in a row?",
    "Find the area of a circle with radius 7 cm.", "What is the square root of 1764?", "Factor 6x^2 + 11x - 10.",
    "Compute the determinant of the matrix [[2, 1], [5, 3]].", "Convert 0.375 to a fraction in lowest terms.",
    "What is the 10th term of the arithmetic sequence 3, 7, 11, ...?", "Prove that the sum of two even numbers is even.",
    "Find the slope of the line through (2, 3) and (6, 11).", "What is log base 2 of 1024?", "Expand (a + b)^4.",
    "Calculate the compound interest on $5,000 at 4% per year for 3 years.", "Find the expected value of a roll of a fair six-sided die.",
    "Solve the inequality 2x - 5 > 9.", "What is the greatest common divisor of 84 and 120?",
    "A rectangle has a perimeter of 36 and a length of 10. What is its area?", "Compute 2^20.",
    "Find the volume of a cone with radius 3 and height 4.", "How many prime numbers are there below 50?",
    "What is the sum of the interior angles of a hexagon?", "Differentiate e^(2x) * ln(x).", "Solve: |2x - 3| = 7.",
    "What is 3/4 + 5/6?", "Find the mean and the variance of 2, 4, 4, 4, 5, 5, 7, 9.", "Integrate x * e^x dx.",
    "How many diagonals does a decagon have?", "Find x if 2^(x+1) = 32.",
]
for t in SYMBOLIC:
    add(t, "math", "math-symbolic")

ZH_MATH = [
    "小明有{a}个苹果，小红的苹果是小明的{b}倍，他们一共有多少个苹果？",
    "一辆汽车每小时行驶{a}千米，行驶了{b}小时后还剩{c}0千米，全程有多少千米？",
    "商店里一件衣服原价{a}0元，打{b}折后又便宜了{c}元，现在卖多少元？",
    "一个长方形的长是{a}厘米，宽是{b}厘米，它的面积是多少平方厘米？",
    "学校买了{a}箱粉笔，每箱{b}盒，每盒{c}支，一共买了多少支粉笔？",
    "妈妈今年{a}岁，女儿今年{b}岁，几年后妈妈的年龄是女儿的{c}倍？",
    "一项工程，甲队单独做{a}天完成，乙队单独做{b}天完成，两队合作几天完成？",
    "某班有{a}名学生，其中{c}0%是女生，男生有多少人？",
    "解方程：{a}x + {b} = {c}0。", "计算：{a} × {b} + {c} 等于多少？",
    "一个数的{b}倍比它的一半多{a}，这个数是多少？", "求函数 f(x) = x² - {a}x + {b} 的最小值。",
    "从1到{a}0的整数中，能被{b}整除的数有多少个？", "一个圆的半径是{b}厘米，它的周长和面积各是多少？",
    "小华存了{a}元，每周再存{b}元，多少周后能存到{c}00元？",
]
for _ in range(60):
    t = rng.choice(ZH_MATH)
    add(t.format(a=rng.randint(2, 40), b=rng.randint(2, 9), c=rng.randint(2, 9)), "math", "math-zh")

# ------------------------------------------------------------------------------------------------------------- qa
MC_EN = [
    ("Which of the following is the powerhouse of the cell?", ["Nucleus", "Mitochondrion", "Ribosome", "Golgi apparatus"]),
    ("The French Revolution began in which year?", ["1776", "1789", "1812", "1848"]),
    ("Which gas makes up most of Earth's atmosphere?", ["Oxygen", "Carbon dioxide", "Nitrogen", "Argon"]),
    ("Who wrote 'Pride and Prejudice'?", ["Charlotte Bronte", "Jane Austen", "Mary Shelley", "George Eliot"]),
    ("Which of the following is a primary function of the kidneys?", ["Producing insulin", "Filtering blood", "Digesting fats", "Pumping blood"]),
    ("In economics, what does GDP measure?", ["Government debt", "Total value of goods and services produced", "Inflation rate", "Unemployment"]),
    ("Which amendment to the U.S. Constitution protects freedom of speech?", ["First", "Second", "Fifth", "Tenth"]),
    ("What is the chemical symbol for gold?", ["Ag", "Au", "Gd", "Go"]),
    ("Which philosopher wrote 'Critique of Pure Reason'?", ["Hume", "Kant", "Hegel", "Locke"]),
    ("Which of the following is NOT a greenhouse gas?", ["Methane", "Water vapor", "Nitrous oxide", "Helium"]),
    ("A patient presents with polyuria and polydipsia. Which condition is most likely?", ["Hypothyroidism", "Diabetes mellitus", "Asthma", "Gout"]),
    ("Which court case established judicial review in the United States?", ["Brown v. Board", "Marbury v. Madison", "Roe v. Wade", "Plessy v. Ferguson"]),
    ("Find the degree for the given field extension Q(sqrt(2), sqrt(3)) over Q.", ["0", "4", "2", "6"]),
    ("Let p = (1, 2, 5, 4)(2, 3) in S_5. Find the index of <p> in S_5.", ["8", "2", "24", "120"]),
    ("What is the value of x if 2x + 6 = 14?", ["2", "4", "6", "8"]),
    ("If a fair coin is flipped three times, what is the probability of exactly two heads?", ["1/8", "3/8", "1/2", "5/8"]),
    ("The sum of the first n odd numbers equals", ["n", "2n", "n^2", "n(n+1)/2"]),
    ("Which data structure uses LIFO order?", ["Queue", "Stack", "Heap", "Tree"]),
    ("What is the worst-case time complexity of quicksort?", ["O(n)", "O(n log n)", "O(n^2)", "O(log n)"]),
    ("In TCP/IP, which layer is responsible for routing?", ["Application", "Transport", "Network", "Link"]),
    ("Which of the following Python expressions evaluates to True?", ["[] == False", "0 is None", "'a' in 'abc'", "1 == '1'"]),
    ("Which sorting algorithm is stable?", ["Heap sort", "Quick sort", "Merge sort", "Selection sort"]),
    ("A neural network that uses convolution layers is best suited for", ["Tabular data", "Image data", "Graph search", "Sorting"]),
    ("Which of these is an example of a public-key cryptosystem?", ["AES", "DES", "RSA", "RC4"]),
    ("What is the main purpose of a hash function in a hash table?", ["Encrypt keys", "Map keys to bucket indices", "Sort keys", "Compress values"]),
    ("Which element has the atomic number 6?", ["Oxygen", "Carbon", "Nitrogen", "Boron"]),
    ("The Treaty of Versailles ended which war?", ["World War I", "World War II", "The Crimean War", "The Boer War"]),
    ("Which planet has the most moons known?", ["Earth", "Mars", "Saturn", "Venus"]),
    ("Which of the following best describes opportunity cost?", ["The money spent", "The value of the next best alternative", "Sunk cost", "Tax paid"]),
    ("In statistics, the median of 3, 8, 1, 9, 4 is", ["3", "4", "8", "5"]),
    ("Which muscle is primarily responsible for breathing?", ["Biceps", "Diaphragm", "Quadriceps", "Deltoid"]),
    ("Who is known as the father of modern physics?", ["Newton", "Einstein", "Galileo", "Bohr"]),
    ("Which moral theory judges actions by their consequences?", ["Deontology", "Virtue ethics", "Utilitarianism", "Contractualism"]),
    ("The derivative of ln(x) is", ["x", "1/x", "e^x", "ln(x)/x"]),
    ("Which of the following is a prime number?", ["21", "27", "29", "33"]),
    ("What does 'caveat emptor' mean?", ["Let the buyer beware", "The seller is liable", "Buyer's remorse", "Fair price"]),
]
QA_STYLES = [
    lambda q, o: f"{q}\nA. {o[0]}\nB. {o[1]}\nC. {o[2]}\nD. {o[3]}\nAnswer:",
    lambda q, o: f"The following is a multiple choice question.\n\n{q}\nA. {o[0]}\nB. {o[1]}\nC. {o[2]}\nD. {o[3]}\nAnswer:",
    lambda q, o: f"Question: {q}\n(A) {o[0]} (B) {o[1]} (C) {o[2]} (D) {o[3]}\nChoose the correct option.",
    lambda q, o: f"{q}\nA) {o[0]}\nB) {o[1]}\nC) {o[2]}\nD) {o[3]}",
]
for q, o in MC_EN:
    for style in rng.sample(QA_STYLES, 2):
        add(style(q, o), "qa", "mc-en")

OPEN_EN = [
    "What is the capital of Australia?", "Who painted the Mona Lisa?", "Why is the sky blue?", "What causes the seasons on Earth?",
    "Explain the difference between a virus and a bacterium.", "What was the significance of the Magna Carta?",
    "How does photosynthesis work?", "What is the theory of relativity in simple terms?", "Who was the first person to walk on the Moon?",
    "What are the main causes of inflation?", "Summarize the plot of Hamlet.", "What is the difference between weather and climate?",
    "How do vaccines train the immune system?", "What is the tallest mountain in Africa?", "Explain what a black hole is.",
    "What language is spoken in Brazil?", "Describe the water cycle.", "What is machine learning?",
    "What does the mitochondria do in a cell?", "Which countries border Switzerland?", "What is the GDP of a country a measure of?",
    "Who invented the telephone?", "Explain the concept of supply and demand.", "What is the difference between TCP and UDP?",
    "What is the time complexity of binary search, and why?", "What is a transformer in deep learning?",
    "Tell me about the history of the Roman Empire.", "What are the symptoms of dehydration?", "What is quantum entanglement?",
    "Who discovered penicillin?", "What is the boiling point of water at sea level in Fahrenheit?", "What does DNA stand for?",
    "How many continents are there and what are they?", "What is the Pythagorean theorem used for?",
    "What is the difference between a compiler and an interpreter?", "What did Alan Turing contribute to computer science?",
    "Explain what inflation targeting by a central bank means.", "What is the role of the Supreme Court?",
]
for t in OPEN_EN:
    add(t, "qa", "open-en")

MC_ZH = [
    ("下列哪一项是我国的基本经济制度？", ["公有制为主体、多种所有制经济共同发展", "计划经济", "完全市场经济", "私有制为主体"]),
    ("《红楼梦》的作者是谁？", ["罗贯中", "曹雪芹", "施耐庵", "吴承恩"]),
    ("光合作用的主要场所是", ["线粒体", "叶绿体", "细胞核", "核糖体"]),
    ("下列哪个朝代最早实行科举制度？", ["汉朝", "隋朝", "唐朝", "宋朝"]),
    ("会计的基本职能是", ["核算和监督", "预测和决策", "计划和控制", "分析和考核"]),
    ("我国最长的河流是", ["黄河", "长江", "珠江", "黑龙江"]),
    ("下列关于函数极限的说法正确的是", ["有界函数一定有极限", "单调有界数列必有极限", "无穷小量一定是零", "极限存在则函数连续"]),
    ("设随机变量X服从参数为2的泊松分布，则E(X)等于", ["1", "2", "4", "0.5"]),
    ("计算机网络中，IP地址属于哪一层？", ["物理层", "数据链路层", "网络层", "传输层"]),
    ("在C语言中，下列哪个是合法的标识符？", ["2abc", "_abc", "a-b", "int"]),
    ("下列排序算法中，平均时间复杂度为O(nlogn)的是", ["冒泡排序", "插入排序", "归并排序", "选择排序"]),
    ("化学反应中，催化剂的作用是", ["改变反应的平衡", "改变反应速率", "增加产物的量", "减少反应物"]),
    ("下列哪位是唐代著名诗人？", ["苏轼", "李白", "陆游", "辛弃疾"]),
    ("我国宪法规定，国家的根本任务是", ["发展经济", "沿着中国特色社会主义道路，集中力量进行社会主义现代化建设", "保卫国家", "改善民生"]),
    ("细胞分裂过程中，DNA复制发生在", ["前期", "中期", "间期", "末期"]),
    ("下列属于可再生能源的是", ["煤炭", "石油", "太阳能", "天然气"]),
    ("已知集合A={1,2,3}，B={2,3,4}，则A∩B等于", ["{1}", "{2,3}", "{1,2,3,4}", "{4}"]),
    ("牛顿第一定律又称为", ["惯性定律", "加速度定律", "作用力与反作用力定律", "万有引力定律"]),
    ("中医理论中，“五脏”不包括", ["心", "肝", "胃", "肾"]),
    ("法律关系的三要素是", ["主体、客体、内容", "权利、义务、责任", "立法、执法、司法", "原告、被告、法官"]),
    ("下列关于企业所得税的说法，正确的是", ["税率统一为10%", "以应纳税所得额为计税依据", "个人独资企业也要缴纳", "不得扣除任何费用"]),
    ("世界上面积最大的国家是", ["中国", "美国", "俄罗斯", "加拿大"]),
    ("马克思主义哲学的直接理论来源是", ["古希腊哲学", "德国古典哲学", "英国经验论", "法国唯物主义"]),
    ("若f(x)=x³，则f'(2)等于", ["6", "8", "12", "4"]),
    ("二叉树的第i层最多有多少个结点？", ["i", "2i", "2^(i-1)", "2^i - 1"]),
    ("下列选项中，属于操作系统的是", ["Word", "Linux", "Excel", "Photoshop"]),
    ("我国古代四大发明不包括", ["造纸术", "印刷术", "指南针", "地动仪"]),
    ("在经济学中，边际效用递减规律说明", ["消费越多总效用越小", "每增加一单位消费带来的效用增量递减", "价格越高需求越大", "收入越高储蓄越少"]),
]
ZH_STYLES = [
    lambda q, o: f"{q}\nA. {o[0]}\nB. {o[1]}\nC. {o[2]}\nD. {o[3]}\n答案：",
    lambda q, o: f"以下是中国考试的单项选择题，请选出其中的正确答案。\n\n{q}\nA. {o[0]}\nB. {o[1]}\nC. {o[2]}\nD. {o[3]}\n答案：",
    lambda q, o: f"{q}\nA. {o[0]}\nB. {o[1]}\nC. {o[2]}\nD. {o[3]}\nAnswer:",
]
for q, o in MC_ZH:
    for style in rng.sample(ZH_STYLES, 2):
        add(style(q, o), "qa", "mc-zh")

OPEN_ZH = [
    "中国的首都是哪里？", "为什么天空是蓝色的？", "请介绍一下唐朝的历史。", "什么是通货膨胀？", "长城是什么时候修建的？",
    "光合作用的原理是什么？", "请解释一下什么是人工智能。", "《三国演义》讲了什么故事？", "地球为什么会有四季？",
    "什么是区块链技术？", "世界上最高的山峰是哪座？", "请简要介绍孔子的思想。", "什么是量子计算？", "疫苗是如何起作用的？",
    "中国有多少个省级行政区？", "请解释供给和需求的关系。", "太阳系有哪些行星？", "什么是温室效应？", "鲁迅的代表作有哪些？",
    "TCP和UDP有什么区别？", "什么是机器学习中的过拟合？", "请解释一下相对论的基本思想。", "黄河为什么被称为母亲河？",
    "人体最大的器官是什么？", "什么是市场经济？",
]
for t in OPEN_ZH:
    add(t, "qa", "open-zh")

# ------------------------------------------------------------------------------------------------ ambiguous on purpose
AMBIGUOUS = [
    ("Write a Python function that computes the compound interest on a loan.", "code"),
    ("How many ways can you arrange the letters of the word CODE?", "math"),
    ("What is the time complexity of merge sort?", "qa"),
    ("Calculate the mean of [3, 5, 7] and then write a program that does it for any list.", "code"),
    ("Is 2^31 - 1 a prime number?", "math"),
    ("Explain what a Python decorator is.", "qa"),
    ("Solve x^2 = 2 numerically using Newton's method in Python.", "code"),
    ("A program runs in 3 seconds for n = 1000 and is O(n^2). How long for n = 4000?", "math"),
    ("Who invented the C programming language?", "qa"),
    ("What is 0.1 + 0.2 in floating point, and why?", "qa"),
    ("Write SQL to compute the average salary per department.", "code"),
    ("If a function is called 3 times per request and there are 250 requests per second, how many calls per minute?", "math"),
    ("What does the 'yield' keyword do in Python?", "qa"),
    ("Implement a function that returns the n-th prime number.", "code"),
    ("Find the number of binary strings of length 10 with no two consecutive 1s.", "math"),
    ("Which is larger, e^pi or pi^e?", "math"),
    ("用Python计算1到100的和。", "code"),
    ("1到100的和是多少？", "math"),
    ("什么是递归函数？", "qa"),
    ("请写一个函数，计算两个日期之间相差的天数。", "code"),
    ("一个算法的时间复杂度是O(n²)，当n扩大10倍时，运行时间扩大多少倍？", "math"),
    ("Tell me the formula for the area of a trapezoid.", "qa"),
    ("A rectangle's area is 48 and its length is 8. What is its width?", "math"),
    ("What is the difference between a list and a tuple in Python?", "qa"),
    ("Debug: my loop `for i in range(10): print(i` gives a SyntaxError.", "code"),
    ("Estimate how many piano tuners there are in Chicago.", "math"),
    ("Which year did the Berlin Wall fall?", "qa"),
    ("Convert 72 degrees Fahrenheit to Celsius.", "math"),
    ("Write a haiku about autumn.", "qa"),
    ("Give me a regex for dates and explain each part.", "code"),
]
for t, label in AMBIGUOUS:
    add(t, label, "ambiguous")

rng.shuffle(items)
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w", encoding="utf-8") as f:
    for i, it in enumerate(items):
        f.write(json.dumps({"id": f"cal-{i:04d}", **it}, ensure_ascii=False) + "\n")
counts = {}
for it in items:
    counts[it["label"]] = counts.get(it["label"], 0) + 1
print(f"wrote {len(items)} prompts to {os.path.relpath(OUT)}: {counts}")
