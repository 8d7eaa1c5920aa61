#!/usr/bin/env python3
"""Builds data/heldout/code_numeric_docstrings.jsonl: held-out HumanEval-style code prompts whose docstrings talk about
numbers - sequences, primes, dates, sorted lists, scores, money - written for A-IO and never used to train or calibrate
the probe. A Python signature with a docstring is a code request whatever its docstring is about; this set measures
whether the fastText probe knows that (its recall of code), and the probe's tests hold it to >= 99%.
Run: python3 scripts/calibration/build_heldout_code.py"""
import json
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "heldout",
                   "code_numeric_docstrings.jsonl")

# (signature, docstring lines, doctest call, doctest answer, needs typing import)
FUNCS = [
    ("tribonacci(n: int) -> int", ["The tribonacci sequence starts 0, 0, 1 and each term is the sum of the three before.",
                                   "Return its n-th term (0-based)."], "tribonacci(6)", "7", False),
    ("lucas_number(n: int) -> int", ["Lucas numbers begin with 2 and 1; every later one adds the previous two.",
                                     "Return the n-th Lucas number."], "lucas_number(5)", "11", False),
    ("pell(n: int) -> int", ["Pell numbers: P(0) = 0, P(1) = 1, P(n) = 2 * P(n - 1) + P(n - 2). Return P(n)."],
     "pell(4)", "12", False),
    ("nth_prime(n: int) -> int", ["Return the n-th prime number, counting 2 as the first."], "nth_prime(5)", "11", False),
    ("twin_primes_below(limit: int) -> List[Tuple[int, int]]",
     ["Return all pairs of primes (p, p + 2) with p + 2 below limit, smallest first."], "twin_primes_below(14)",
     "[(3, 5), (5, 7), (11, 13)]", True),
    ("is_perfect(n: int) -> bool", ["A perfect number equals the sum of its proper divisors, like 6 = 1 + 2 + 3.",
                                    "Return True when n is perfect."], "is_perfect(28)", "True", False),
    ("goldbach_pair(n: int) -> Tuple[int, int]",
     ["For an even n greater than 2, return two primes p <= q with p + q == n and p as small as possible."],
     "goldbach_pair(28)", "(5, 23)", True),
    ("collatz_steps(n: int) -> int", ["Halve n when it is even, otherwise replace it by 3 * n + 1.",
                                      "Return how many steps it takes to reach 1."], "collatz_steps(6)", "8", False),
    ("digital_root(n: int) -> int", ["Repeatedly sum the decimal digits of n until one digit is left; return it."],
     "digital_root(9875)", "2", False),
    ("armstrong_numbers(limit: int) -> List[int]",
     ["Return the numbers below limit that equal the sum of their digits each raised to the number of digits."],
     "armstrong_numbers(200)", "[1, 2, 3, 4, 5, 6, 7, 8, 9, 153]", True),
    ("day_of_year(date: str) -> int", ["The date is 'YYYY-MM-DD'. Return which day of its year it is, 1 for January 1,",
                                       "counting February 29 in leap years."], "day_of_year('2024-03-01')", "61", False),
    ("is_leap_year(year: int) -> bool", ["Years divisible by 4 are leap years, except centuries, unless divisible by 400."],
     "is_leap_year(1900)", "False", False),
    ("days_between(a: str, b: str) -> int", ["Both dates are 'DD/MM/YYYY'. Return how many days lie from a to b",
                                             "(negative when b is earlier)."], "days_between('01/01/2023', '01/03/2023')",
     "59", False),
    ("weekday_name(day: int, month: int, year: int) -> str",
     ["Return the English name of the weekday of the given Gregorian date."], "weekday_name(1, 1, 2000)",
     "'Saturday'", False),
    ("add_minutes(clock: str, minutes: int) -> str", ["clock is 'HH:MM' on a 24-hour clock. Return the time",
                                                      "`minutes` later, wrapping past midnight."],
     "add_minutes('23:50', 25)", "'00:15'", False),
    ("merge_sorted(a: List[int], b: List[int]) -> List[int]",
     ["Both lists are sorted ascending. Return one sorted list with every element of both."],
     "merge_sorted([1, 4, 9], [2, 3, 10])", "[1, 2, 3, 4, 9, 10]", True),
    ("kth_smallest(nums: List[int], k: int) -> int", ["Return the k-th smallest value of nums (k starts at 1)."],
     "kth_smallest([7, 2, 9, 4], 2)", "4", True),
    ("count_inversions(nums: List[int]) -> int",
     ["Count the pairs i < j with nums[i] > nums[j]: how far the list is from sorted."],
     "count_inversions([3, 1, 2])", "2", True),
    ("longest_increasing_run(nums: List[int]) -> int",
     ["Return the length of the longest run of consecutive strictly increasing numbers."],
     "longest_increasing_run([5, 1, 2, 3, 1, 4])", "3", True),
    ("insert_sorted(nums: List[float], x: float) -> List[float]",
     ["nums is sorted. Return a new sorted list with x inserted where it belongs."],
     "insert_sorted([1.5, 2.5, 4.0], 3.0)", "[1.5, 2.5, 3.0, 4.0]", True),
    ("top_three_scores(scores: Dict[str, int]) -> List[str]",
     ["scores maps each player to points. Return the names of the three highest scorers, best first;",
      "ties go to the alphabetically earlier name."], "top_three_scores({'ann': 9, 'bo': 12, 'cy': 9, 'di': 3})",
     "['bo', 'ann', 'cy']", True),
    ("grade(score: float) -> str", ["Map an exam score out of 100 to a letter: 90 and above is A, 80 B, 70 C, 60 D,",
                                    "anything lower F."], "grade(84.5)", "'B'", False),
    ("bowling_score(rolls: List[int]) -> int",
     ["Return the total score of a complete ten-pin bowling game given the pins knocked down by each roll."],
     "bowling_score([10] * 12)", "300", True),
    ("average_without_extremes(scores: List[float]) -> float",
     ["Drop one highest and one lowest score and return the mean of the rest (at least three scores given)."],
     "average_without_extremes([7.0, 9.5, 8.0, 6.0])", "7.5", True),
    ("rank_positions(times: List[float]) -> List[int]",
     ["Runners finished with these times in seconds. Return each runner's place, 1 for the fastest."],
     "rank_positions([12.1, 11.4, 13.0])", "[2, 1, 3]", True),
    ("compound_interest(principal: float, rate: float, years: int) -> float",
     ["Return the balance after `years` of yearly compounding at `rate` percent, rounded to cents."],
     "compound_interest(1000.0, 5.0, 2)", "1102.5", False),
    ("split_bill(total: float, people: int, tip_percent: float) -> float",
     ["Add the tip to the total and return what each person pays, rounded up to the next cent."],
     "split_bill(100.0, 3, 10.0)", "36.67", False),
    ("change_coins(amount: int, coins: List[int]) -> int",
     ["Return the fewest coins that add up to amount (in cents), or -1 when it cannot be done."],
     "change_coins(11, [1, 2, 5])", "3", True),
    ("loan_payment(principal: float, annual_rate: float, months: int) -> float",
     ["Return the fixed monthly payment that repays the loan in `months` months at the annual percentage rate."],
     "round(loan_payment(1200.0, 0.0, 12), 2)", "100.0", False),
    ("gcd_list(nums: List[int]) -> int", ["Return the greatest common divisor of all the numbers in the list."],
     "gcd_list([12, 18, 30])", "6", True),
    ("lcm_range(n: int) -> int", ["Return the smallest positive number evenly divisible by every integer from 1 to n."],
     "lcm_range(10)", "2520", False),
    ("to_roman(n: int) -> str", ["Convert an integer between 1 and 3999 to Roman numerals."], "to_roman(1994)",
     "'MCMXCIV'", False),
    ("from_base(digits: str, base: int) -> int", ["Interpret digits (0-9 then a-z) in the given base and return the number."],
     "from_base('ff', 16)", "255", False),
    ("pascal_row(n: int) -> List[int]", ["Return row n of Pascal's triangle, row 0 being [1]."], "pascal_row(4)",
     "[1, 4, 6, 4, 1]", True),
    ("catalan(n: int) -> int", ["Return the n-th Catalan number: 1, 1, 2, 5, 14, 42, ..."], "catalan(5)", "42", False),
    ("harmonic(n: int) -> float", ["Return 1 + 1/2 + 1/3 + ... + 1/n."], "round(harmonic(4), 4)", "2.0833", False),
    ("square_root_floor(n: int) -> int", ["Return the largest integer whose square does not exceed n, without math.sqrt."],
     "square_root_floor(50)", "7", False),
    ("running_total(nums: List[int]) -> List[int]", ["Return the cumulative sums: element i is nums[0] + ... + nums[i]."],
     "running_total([3, 1, 4])", "[3, 4, 8]", True),
    ("moving_average(values: List[float], window: int) -> List[float]",
     ["Return the mean of every window of `window` consecutive values, in order."],
     "moving_average([1.0, 2.0, 3.0, 4.0], 2)", "[1.5, 2.5, 3.5]", True),
    ("percentile(values: List[float], p: float) -> float",
     ["Return the p-th percentile (0 to 100) of the values by linear interpolation between closest ranks."],
     "percentile([1.0, 2.0, 3.0, 4.0], 50.0)", "2.5", True),
    ("celsius_table(start: int, stop: int, step: int) -> List[Tuple[int, float]]",
     ["Return (celsius, fahrenheit) pairs from start up to but not including stop, every step degrees."],
     "celsius_table(0, 30, 10)", "[(0, 32.0), (10, 50.0), (20, 68.0)]", True),
    ("happy_number(n: int) -> bool", ["Replace n by the sum of the squares of its digits until it is 1 or repeats.",
                                      "Return True when it reaches 1."], "happy_number(19)", "True", False),
    ("missing_number(nums: List[int]) -> int",
     ["nums holds n distinct numbers taken from 0, 1, ..., n. Return the one that is missing."],
     "missing_number([3, 0, 1])", "2", True),
    ("max_subarray_sum(nums: List[int]) -> int", ["Return the largest sum of a non-empty contiguous slice of nums."],
     "max_subarray_sum([-2, 1, -3, 4, -1, 2, 1, -5, 4])", "6", True),
    ("two_sum_indices(nums: List[int], target: int) -> Tuple[int, int]",
     ["Return the indices i < j of the two numbers that add up to target."], "two_sum_indices([2, 7, 11, 15], 9)",
     "(0, 1)", True),
    ("count_primes_between(a: int, b: int) -> int", ["Return how many primes p satisfy a <= p <= b."],
     "count_primes_between(10, 30)", "6", False),
    ("next_palindrome_number(n: int) -> int", ["Return the smallest palindromic number strictly greater than n."],
     "next_palindrome_number(123)", "131", False),
    ("age_on(birth: str, day: str) -> int", ["Dates are 'YYYY-MM-DD'. Return the age in whole years on `day`."],
     "age_on('2000-05-20', '2024-05-19')", "23", False),
    ("quarter_of(month: int) -> int", ["Return the calendar quarter (1 to 4) that the month number falls in."],
     "quarter_of(11)", "4", False),
    ("median_of_sorted(a: List[int], b: List[int]) -> float",
     ["Both lists are sorted. Return the median of all their numbers together."],
     "median_of_sorted([1, 3], [2, 4])", "2.5", True),
]


def stubs(sig, doc, call, answer, typing):
    """Each function in three shapes prompts take: HumanEval's (imports, docstring, doctest), without the doctest and
    imports, and a bare one-line docstring."""
    head = "from typing import Dict, List, Tuple\n\n\n" if typing else ""
    body = "\n    ".join(doc)
    return [f'{head}def {sig}:\n    """{body}\n    >>> {call}\n    {answer}\n    """\n',
            f'def {sig}:\n    """{body}\n    """\n',
            f'def {sig}:\n    """{doc[0]}"""\n']


def main():
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    n = 0
    with open(OUT, "w") as f:
        for sig, doc, call, answer, typing in FUNCS:
            for text in stubs(sig, doc, call, answer, typing):
                f.write(json.dumps({"text": text, "label": "code"}, ensure_ascii=False) + "\n")
                n += 1
    print(f"wrote {n} prompts ({len(FUNCS)} functions x 3 shapes) to {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
