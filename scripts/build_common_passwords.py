"""Build marketplace/data/common-passwords.txt from Django's list plus Chinese patterns.

Usage: python scripts/build_common_passwords.py Django-5.2.19-py3-none-any.whl

Takes the first TOP entries of ``django/contrib/auth/common-passwords.txt.gz`` (ordered by
frequency) and adds the patterns Chinese users choose most (leaked CSDN, 12306 and
Tianya lists: repeated lucky digits, 我爱你 / 一生一世 numbers, pinyin, keyboard rows).
"""

from __future__ import annotations

import gzip
import sys
import zipfile
from pathlib import Path

TOP = 5000
OUT = Path(__file__).resolve().parent.parent / "marketplace" / "data" / "common-passwords.txt"

CHINESE = """
123456789a 123456789 12345678 1234567890 12345678910 0123456789 987654321 9876543210
11111111 1111111111 00000000 0000000000 88888888 8888888888 888888888 66666666 6666666666
666666666 99999999 9999999999 55555555 12121212 11223344 1122334455 12341234 123123123
1231231230 1234512345 1234554321 1357924680 147258369 1472583690 159753159753 123654789
5201314 52013145201314 5201314520 1314520520 13145201314 1314521 5211314 7758521
7758258 woaini woaini1314 woaini520 woaini1314520 woaini123 woaini123456 woainima
woaiwojia woaiwoma woshishui nihao123 nihao123456 nihaoma wodemima mima123456
qwertyuiop qwertyuiop123 asdfghjkl zxcvbnm zxcvbnm123 qweasdzxc qweasdzxc123 1qaz2wsx
1qaz2wsx3edc 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y 1234qwer 1234qwerasdf 123qweasd
123qweasdzxc qwe123456 qwe123456789 abc123456 abc123456789 abcd123456 abcd1234 a123456789
a1234567890 aa123456 aa123456789 aaa123456 qq123456 qq123456789 qaz123456 password1
password123 password1234 passw0rd admin123 admin123456 admin888 root123456 test123456
wang123456 zhang123456 li123456 liu123456 chen123456 yang123456 huang123456 zhao123456
wangwei123 zhangwei123 beijing beijing2008 beijing123 shanghai shanghai123 zhongguo
zhongguo123 china123 china123456 iloveyou1314 iloveyou520 dearbook 111222tianya
tianya123 baidu123 taobao123 weixin123 qqqqqqqq wwwwwwww asdasdasd asd123456
asdf123456 zxc123456 zxcvbn123 520520520 1314131413 168168168 518518518 888888888a
a88888888 a11111111 a12345678 12345678a 12345678abc 123456abc 123456aa 123456qq
"""


def build(wheel: str) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read("django/contrib/auth/common-passwords.txt.gz")
    django = gzip.decompress(data).decode().split()
    seen: dict[str, None] = {}
    for word in [*CHINESE.split(), *django[:TOP]]:
        seen.setdefault(word.strip().lower(), None)
    return [word for word in seen if word]


if __name__ == "__main__":
    words = build(sys.argv[1])
    OUT.write_text("\n".join(words) + "\n", encoding="utf-8")
    print(f"{len(words)} passwords written to {OUT}")
